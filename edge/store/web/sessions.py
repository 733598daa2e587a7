"""Web sessions and the login lock-out, kept in the store process's memory.

A session id is 32 random bytes in an HttpOnly, SameSite=Strict cookie; the server
keeps, per session, the user's name and token hash (never the token), a CSRF token and
the ids of events the user's audited searches returned (their thumbnails may be shown
without a separate audit entry each). Every request looks the user up again by token
hash, so revoking a user or changing a role takes effect at once. Sessions end after
``session_idle_s`` without use or ``session_max_s`` after login; logout ends them now.

Lock-out: after ``lockout_failures`` failed logins for one user name, or from one
client address, further attempts for that name / from that address are refused for
``lockout_s`` whether the token is right or not.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from edge.store.config import WebConfig

MAX_SESSIONS = 10_000
MAX_SEEN = 5_000
US = 1_000_000


@dataclass(slots=True)
class Session:
    sid: str
    user: str
    token_sha256: str
    csrf: str
    created_us: int
    last_us: int
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def remember(self, event_ids: list[str]) -> None:
        for event_id in event_ids:
            self.seen[event_id] = None
            self.seen.move_to_end(event_id)
        while len(self.seen) > MAX_SEEN:
            self.seen.popitem(last=False)


class SessionStore:
    def __init__(self, config: WebConfig) -> None:
        self._idle_us = config.session_idle_s * US
        self._max_us = config.session_max_s * US
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, user: str, token_sha256: str, now_us: int) -> Session:
        session = Session(
            secrets.token_urlsafe(32), user, token_sha256, secrets.token_urlsafe(32), now_us, now_us
        )
        with self._lock:
            self._sessions[session.sid] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)  # the least recently used goes first
        return session

    def get(self, sid: str, now_us: int) -> Session | None:
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if (
                now_us - session.last_us > self._idle_us
                or now_us - session.created_us > self._max_us
            ):
                del self._sessions[sid]
                return None
            session.last_us = now_us
            self._sessions.move_to_end(sid)
            return session

    def drop(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def drop_user(self, user: str) -> None:
        with self._lock:
            for sid in [s.sid for s in self._sessions.values() if s.user == user]:
                del self._sessions[sid]


@dataclass(slots=True)
class _Failures:
    count: int = 0
    first_us: int = 0
    locked_until_us: int = 0


class LoginGuard:
    """Counts failed logins per user name and per client address."""

    def __init__(self, config: WebConfig) -> None:
        self._limit = config.lockout_failures
        self._lock_us = config.lockout_s * US
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(name: str, client: str) -> tuple[str, str]:
        return f"user:{name.lower()[:64]}", f"addr:{client}"

    def locked(self, name: str, client: str, now_us: int) -> bool:
        with self._lock:
            return any(
                self._failures.get(k, _Failures()).locked_until_us > now_us
                for k in self._keys(name, client)
            )

    def failed(self, name: str, client: str, now_us: int) -> bool:
        """Record a failure; True when this failure locks the name or the address."""
        locked = False
        with self._lock:
            if len(self._failures) > 100_000:  # bounded memory under a spray of names
                self._failures = {
                    k: v for k, v in self._failures.items() if v.locked_until_us > now_us
                }
            for key in self._keys(name, client):
                f = self._failures.setdefault(key, _Failures(first_us=now_us))
                if now_us - f.first_us > self._lock_us:  # old failures no longer count
                    f.count, f.first_us = 0, now_us
                f.count += 1
                if f.count >= self._limit:
                    f.locked_until_us = now_us + self._lock_us
                    f.count, f.first_us = 0, now_us
                    locked = True
        return locked

    def succeeded(self, name: str, client: str) -> None:
        with self._lock:
            for key in self._keys(name, client):
                self._failures.pop(key, None)
