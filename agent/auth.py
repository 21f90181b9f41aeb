"""API keys: who is calling (an admin, or a key bound to one user), and a brake on guessing.

``WHYREC_API_KEYS`` holds comma-separated entries ``key`` (admin) or ``key:user_id`` (bound to
one user). Keys are kept only as SHA-256 digests once parsed and compared in constant time. A
malformed entry stops the server from starting: a typo must never turn into an open door.

>>> ring = KeyRing.parse(("s3cret-admin", "alice-key:alice"))
>>> ring.principal("alice-key")
Principal(user_id='alice', admin=False)
>>> ring.principal("wrong") is None
True
>>> KeyRing.parse(("bobkey-123:",))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
whyrec.agent.auth.KeyConfigError: WHYREC_API_KEYS entry 1 ('****:') has nothing after ':' ...
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

#: Shortest key accepted (a guessable key is as bad as none).
MIN_KEY_LENGTH = 8


class KeyConfigError(ValueError):
    """``WHYREC_API_KEYS`` holds an entry that cannot be a key."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin, or a key bound to one user."""

    user_id: str | None
    admin: bool

    def may_access(self, user_id: str) -> bool:
        return self.admin or self.user_id == str(user_id)


class KeyRing:
    """API keys held as SHA-256 digests; lookups compare digests in constant time."""

    def __init__(self, keys: Sequence[tuple[bytes, str | None]] = ()) -> None:
        self._keys = list(keys)

    @classmethod
    def parse(cls, entries: Sequence[str]) -> KeyRing:
        """Keys from ``key`` / ``key:user_id`` entries; raises :class:`KeyConfigError` naming the
        first malformed entry (empty key or user, whitespace, a short key, a repeated key)."""
        keys: list[tuple[bytes, str | None]] = []
        seen: set[bytes] = set()
        for n, entry in enumerate(entries, start=1):
            key, colon, user = entry.partition(":")
            shown = f"WHYREC_API_KEYS entry {n} ({_masked(entry)!r})"
            if not key:
                raise KeyConfigError(f"{shown} has no key before ':'")
            if colon and not user:
                raise KeyConfigError(f"{shown} has nothing after ':' — write key:user_id, or key alone "
                                     "for an admin key")
            if any(c.isspace() for c in entry):
                raise KeyConfigError(f"{shown} contains whitespace")
            if len(key) < MIN_KEY_LENGTH:
                raise KeyConfigError(f"{shown}: a key needs at least {MIN_KEY_LENGTH} characters")
            digest = hashlib.sha256(key.encode()).digest()
            if digest in seen:
                raise KeyConfigError(f"{shown} repeats a key given before")
            seen.add(digest)
            keys.append((digest, user or None))
        return cls(keys)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def principal(self, presented: str | None) -> Principal | None:
        """The caller a presented key stands for, or ``None`` (an empty key never matches)."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found: Principal | None = None
        for stored, user in self._keys:  # no early exit: time does not depend on the match
            if hmac.compare_digest(stored, digest):
                found = Principal(user, admin=user is None)
        return found


def _masked(entry: str) -> str:
    """An entry with its key hidden (error messages must not print secrets)."""
    key, colon, user = entry.partition(":")
    return ("*" * min(len(key), 4) if key else "") + colon + user


class FailureBrake:
    """Slows down key guessing: after ``limit`` failed attempts from one client within ``window``
    seconds, that client is refused (429) until the window has passed."""

    def __init__(self, limit: int = 10, window: float = 60.0, clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.clients = clients
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again (0 when it may now)."""
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(client)
            if not times:
                return 0.0
            while times and now - times[0] > self.window:
                times.popleft()
            if len(times) < self.limit:
                return 0.0
            return max(0.0, self.window - (now - times[0]))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if client not in self._failures and len(self._failures) >= self.clients:
                self._failures.pop(next(iter(self._failures)))  # bounded memory: drop the oldest
            self._failures.setdefault(client, deque(maxlen=self.limit)).append(now)
