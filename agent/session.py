"""Chat sessions: each bound to one user, held in memory (least recently used dropped) and, for
replicated serving, in a shared store every ``whyrec serve`` process reaches.

With a shared store (``WHYREC_SESSIONS``), a session's turns are saved after each turn. A replica
that does not hold a session, or holds an older copy of it, loads the turns and rebuilds the
session from them with the agent's replay (what each user message asked, the last list shown — no
tool runs), so any replica answers "why the second one?" about the list another replica showed.

Two stores, one table and the same statements:

* ``sqlite[:PATH]`` — one SQLite file (WAL mode) on the shared workspace volume. It needs no new
  server; WAL lets readers run while one writer commits. WAL relies on shared memory between the
  processes, so every replica must run on the same host (one docker volume).
* ``postgresql://…`` — a PostgreSQL database, for replicas on several hosts (the Debian
  ``postgresql`` package, or any managed PostgreSQL). Why PostgreSQL: one row per session with an
  atomic upsert is all the store needs, and PostgreSQL is the SQL server a team is most likely to
  run already; the client (psycopg) is a pure wheel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whyrec.tools.settings import Settings

from .auth import Principal
from .intents import DialogState
from .tools import SessionView

log = logging.getLogger(__name__)

MAX_SESSIONS = 2000
#: Sessions untouched for this long are removed from the shared store.
SESSION_TTL_SECONDS = 30 * 24 * 3600.0
#: The shared store's file name in the workspace (``WHYREC_SESSIONS=sqlite``).
SESSIONS_FILE = "sessions.sqlite3"


@dataclass
class Session:
    session_id: str
    view: SessionView
    history: list[tuple[str, str]] = field(default_factory=list)  # (role, text)
    lock: threading.Lock = field(default_factory=threading.Lock)
    dialog: DialogState = field(default_factory=DialogState)
    version: int = 0  # the shared store's version of this session this copy holds (0: never saved)

    def reset(self) -> None:
        """Empty the conversation (before it is rebuilt from the shared store's turns)."""
        self.view = SessionView(self.view.user_id)
        self.dialog = DialogState()
        self.history = []


#: Rebuilds a session from earlier (role, text) turns without running tools (``Agent._replay``).
Restore = Callable[[Session, list[tuple[str, str]]], None]


@dataclass(frozen=True)
class StoredSession:
    """One session as the shared store holds it."""

    session_id: str
    user_id: str
    history: tuple[tuple[str, str], ...]
    version: int
    updated: float  # seconds since the epoch

    def to_json(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "user_id": self.user_id,
                "history": [list(turn) for turn in self.history], "version": self.version,
                "updated": self.updated}


class _SqlSessions:
    """The session table and its statements, for a DB-API connection per thread (``?`` marks a
    parameter; a subclass whose driver uses another style sets ``_mark``)."""

    _mark = "?"
    _blob = "BLOB"
    _real = "REAL"

    def __init__(self, ttl_seconds: float = SESSION_TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._ready = False
        self._saves = 0

    # -- a subclass provides ------------------------------------------------------------------
    def _open(self) -> Any:
        """A new connection in autocommit mode."""
        raise NotImplementedError

    def _prepare(self, conn: Any) -> None:
        """Once per store, before the tables are made (file permissions, journal mode)."""

    def _after_delete(self, conn: Any) -> None:
        """After a user's rows are deleted: make sure their text leaves the storage."""

    # -- shared -------------------------------------------------------------------------------
    def _sql(self, statement: str) -> str:
        return statement if self._mark == "?" else statement.replace("?", self._mark)

    def _run(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        return self._connect().execute(self._sql(statement), params)

    def _connect(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._init_lock:
            conn = self._open()
            if not self._ready:
                self._prepare(conn)
                self._create_tables(conn)
                self._ready = True
        self._local.conn = conn
        return conn

    def _create_tables(self, conn: Any) -> None:
        for statement in (
                f"CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
                f" history TEXT NOT NULL, version BIGINT NOT NULL, updated {self._real} NOT NULL)",
                "CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id)",
                "CREATE INDEX IF NOT EXISTS sessions_updated ON sessions(updated)",
                f"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value {self._blob} NOT NULL)"):
            conn.execute(statement)

    def check(self) -> None:
        """Open the store now (create its tables); raises RuntimeError when it cannot be reached."""
        self._connect()

    def secret(self) -> bytes:
        """The key behind scoped session ids, the same for every replica (made on first use)."""
        self._run("INSERT INTO meta (key, value) VALUES ('scoped_id_secret', ?) ON CONFLICT (key) DO NOTHING",
                  (secrets.token_bytes(32),))
        return bytes(self._run("SELECT value FROM meta WHERE key = 'scoped_id_secret'").fetchone()[0])

    def owner(self, session_id: str) -> str | None:
        """The user a stored session belongs to (None: no such session)."""
        row = self._run("SELECT user_id FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return None if row is None else str(row[0])

    def load(self, session_id: str) -> StoredSession | None:
        row = self._run("SELECT user_id, history, version, updated FROM sessions WHERE session_id = ?",
                        (session_id,)).fetchone()
        if row is None:
            return None
        history = tuple((str(role), str(text)) for role, text in json.loads(row[1]))
        return StoredSession(session_id, str(row[0]), history, int(row[2]), float(row[3]))

    def save(self, session_id: str, user_id: str, history: list[tuple[str, str]]) -> int:
        """Store the session's turns (the last writer wins); returns its new version, or 0 when
        the id belongs to another user (nothing is written)."""
        now = time.time()
        row = self._run(
            "INSERT INTO sessions (session_id, user_id, history, version, updated) VALUES (?, ?, ?, 1, ?) "
            "ON CONFLICT (session_id) DO UPDATE SET history = excluded.history, version = sessions.version + 1, "
            "updated = excluded.updated WHERE sessions.user_id = excluded.user_id RETURNING version",
            (session_id, user_id, json.dumps([list(t) for t in history], ensure_ascii=False), now)).fetchone()
        self._saves += 1
        if self._saves % 500 == 1:
            self._run("DELETE FROM sessions WHERE updated < ?", (now - self.ttl_seconds,))
        if row is None:
            log.warning("session %s belongs to another user; its turn was not stored", session_id)
            return 0
        return int(row[0])

    def delete_user(self, user_id: str) -> int:
        """Remove every session of the user; returns how many."""
        removed = self._run("DELETE FROM sessions WHERE user_id = ?", (str(user_id),)).rowcount
        self._after_delete(self._connect())
        return int(removed)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class SqliteSessions(_SqlSessions):
    """Sessions in one SQLite file (WAL mode) that every replica on this host opens.

    The file is created with 0600 permissions (chat text is personal data); it also holds the
    secret behind :meth:`SessionStore.scoped_id`, created once by whichever replica comes first.
    Deleted rows are overwritten (``secure_delete``) and the write-ahead log is truncated after a
    user is forgotten, so their text does not linger in the file.
    """

    def __init__(self, path: str | os.PathLike[str], ttl_seconds: float = SESSION_TTL_SECONDS,
                 timeout: float = 10.0) -> None:
        super().__init__(ttl_seconds)
        self.path = Path(path)
        self.timeout = timeout

    def _open(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _prepare(self, conn: Any) -> None:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"the session store {self.path} cannot use WAL mode (got {mode!r}); "
                               "put it on a local disk or docker volume, not a network share")

    def _after_delete(self, conn: Any) -> None:
        for _ in range(20):  # the old pages leave the write-ahead log (retried while a replica reads)
            if conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
                return
            time.sleep(0.05)
        log.warning("the session store's write-ahead log could not be truncated now; the deleted "
                    "sessions' pages stay in it until the next checkpoint")


class PostgresSessions(_SqlSessions):
    """Sessions in a PostgreSQL database every replica reaches (replicas on several hosts).

    ``url`` is a libpq connection string (``postgresql://whyrec:secret@db:5432/whyrec``); the
    tables are created on first use. After a user is forgotten the table is vacuumed, so the
    deleted rows' space is reclaimed by the server (PostgreSQL does not overwrite it at once:
    its files and write-ahead log are the database administrator's to protect, as for any
    personal data in a database).
    """

    _mark = "%s"
    _blob = "BYTEA"
    _real = "DOUBLE PRECISION"

    def __init__(self, url: str, ttl_seconds: float = SESSION_TTL_SECONDS, timeout: float = 10.0) -> None:
        super().__init__(ttl_seconds)
        self.url = url
        self.timeout = timeout

    def _open(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.timeout)))
        except psycopg.OperationalError as exc:
            where = self.url.split("@")[-1]  # never the password
            raise RuntimeError(f"cannot reach the session database at {where}: {str(exc).strip()}") from exc

    def _create_tables(self, conn: Any) -> None:
        # Replicas starting together: CREATE ... IF NOT EXISTS can still collide in PostgreSQL's
        # catalog, so the tables are made under a lock held for this connection's session.
        conn.execute("SELECT pg_advisory_lock(473001)")
        try:
            super()._create_tables(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(473001)")

    def _after_delete(self, conn: Any) -> None:
        conn.execute("VACUUM sessions")


SharedSessions = SqliteSessions | PostgresSessions


def shared_sessions(settings: Settings) -> SharedSessions | None:
    """The shared store ``settings.sessions`` names: None for ``memory``; the SQLite file for
    ``sqlite[:PATH]`` (``sqlite`` alone: ``sessions.sqlite3`` in the workspace); the database for
    ``postgresql://…`` (or ``postgres://…``)."""
    spec = settings.sessions.strip()
    if spec in ("", "memory"):
        return None
    if spec.startswith(("postgresql://", "postgres://")):
        return PostgresSessions(spec)
    kind, _, where = spec.partition(":")
    if kind != "sqlite":
        shown = spec.split("@")[-1] if "@" in spec else spec
        raise ValueError(f"WHYREC_SESSIONS={shown!r} is not understood: use 'memory', 'sqlite[:PATH]' "
                         "or 'postgresql://USER:PASSWORD@HOST:PORT/DATABASE'")
    return SqliteSessions(Path(where) if where else Path(settings.workspace) / SESSIONS_FILE)


class SessionStore:
    """Chat sessions in memory, each bound to a user; with ``shared``, also in a store every
    replica reaches (the memory copy is then a cache checked against it on every turn)."""

    def __init__(self, limit: int = MAX_SESSIONS, shared: SharedSessions | None = None) -> None:
        self.limit = limit
        self.shared = shared
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self._secret: bytes | None = None if shared is not None else secrets.token_bytes(32)

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionStore:
        return cls(shared=shared_sessions(settings))

    def get(self, session_id: str | None, user_id: str) -> Session:
        """The session to answer in: the caller's, or a fresh one (under a new id) when the id
        belongs to another user. Call :meth:`sync` under the session's lock before the turn."""
        owner = self.shared.owner(session_id) if self.shared is not None and session_id else None
        with self._lock:
            sid = session_id or uuid.uuid4().hex
            session = self._sessions.get(sid)
            if self.shared is not None and session is not None and session.version > 0 and owner is None:
                session = None  # removed from the shared store (forgotten, expired): gone here too
            foreign = (owner is not None and owner != user_id) or \
                (session is not None and session.view.user_id != user_id)
            if foreign:
                # Another user's session id behaves like an unknown one: a fresh session under a
                # new id (the answer carries it), and no hint that the id exists.
                sid = uuid.uuid4().hex
                session = None
            if session is None:
                session = Session(sid, SessionView(user_id))
                self._sessions[sid] = session
                while len(self._sessions) > self.limit:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(sid)
            return session

    def sync(self, session: Session, restore: Restore) -> None:
        """Bring ``session`` up to the shared store's copy when another replica has taken a turn
        in it since (rebuilt with ``restore`` from the stored turns). Call under ``session.lock``."""
        if self.shared is None:
            return
        stored = self.shared.load(session.session_id)
        if stored is None or stored.version == session.version or stored.user_id != session.view.user_id:
            return
        session.reset()
        restore(session, list(stored.history))
        session.version = stored.version

    def save(self, session: Session) -> None:
        """Store the session's turns for the other replicas (after a turn, under its lock)."""
        if self.shared is not None:
            session.version = self.shared.save(session.session_id, session.view.user_id, session.history)

    def scoped_id(self, kind: str, principal: Principal, user_id: str) -> str:
        """A stable session id for one caller and user that nobody else can predict (keyed by a
        secret shared by the replicas, or of this process without a shared store): e.g. the
        OpenAI-compatible endpoint's per-user conversation."""
        if self._secret is None:
            assert self.shared is not None
            self._secret = self.shared.secret()
        caller = "admin" if principal.admin else f"user:{principal.user_id}"
        message = f"{kind}|{caller}|{user_id}".encode()
        return f"{kind}-" + hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def forget_user(self, user_id: str) -> int:
        """Drop the user's sessions here and from the shared store; returns how many sessions
        were removed (the larger of the two counts: a session can be in both)."""
        with self._lock:
            doomed = [sid for sid, s in self._sessions.items() if s.view.user_id == user_id]
            for sid in doomed:
                del self._sessions[sid]
        shared = self.shared.delete_user(user_id) if self.shared is not None else 0
        return max(len(doomed), shared)
