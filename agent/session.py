"""Chat sessions: each bound to one user, held in memory (least recently used dropped)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from .auth import Principal
from .tools import SessionView

MAX_SESSIONS = 2000


@dataclass
class Session:
    session_id: str
    view: SessionView
    history: list[tuple[str, str]] = field(default_factory=list)  # (role, text)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionStore:
    """Chat sessions in memory, each bound to a user."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(32)

    def get(self, session_id: str | None, user_id: str) -> Session:
        with self._lock:
            sid = session_id or uuid.uuid4().hex
            session = self._sessions.get(sid)
            if session is None:
                session = Session(sid, SessionView(user_id))
                self._sessions[sid] = session
                while len(self._sessions) > self.limit:
                    self._sessions.popitem(last=False)
            elif session.view.user_id != user_id:
                # Another user's session id behaves like an unknown one: a fresh session under a
                # new id (the answer carries it), and no hint that the id exists.
                sid = uuid.uuid4().hex
                session = Session(sid, SessionView(user_id))
                self._sessions[sid] = session
            self._sessions.move_to_end(sid)
            return session

    def scoped_id(self, kind: str, principal: Principal, user_id: str) -> str:
        """A stable session id for one caller and user that nobody else can predict (keyed by a
        secret of this process): e.g. the OpenAI-compatible endpoint's per-user conversation."""
        caller = "admin" if principal.admin else f"user:{principal.user_id}"
        message = f"{kind}|{caller}|{user_id}".encode()
        return f"{kind}-" + hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def forget_user(self, user_id: str) -> int:
        with self._lock:
            doomed = [sid for sid, s in self._sessions.items() if s.view.user_id == user_id]
            for sid in doomed:
                del self._sessions[sid]
            return len(doomed)
