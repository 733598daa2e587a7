"""Web sessions and the login lock-out.

A session id is 32 random bytes in an HttpOnly, SameSite=Strict cookie. Sessions live
in the store's database (edge/store/sql_sessions.py), under the sha256 of the id, so a
restart or a second store process keeps reviewers logged in. Per session the store
keeps the user's name and token hash (never the token), a CSRF token and the ids of
events the user's audited searches returned (their thumbnails may be shown without a
separate audit entry each). Every request looks the user up again by token hash, so
revoking a user or changing a role takes effect at once. Sessions end after
``session_idle_s`` without use (measured to within ``TOUCH_S``) or ``session_max_s``
after login; logout ends them now; expired rows are deleted at each login.

Lock-out (per process, in memory): after ``lockout_failures`` failed logins for one
user name, or from one client address, further attempts for that name / from that
address are refused for ``lockout_s`` whether the token is right or not.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from edge.store.config import WebConfig
from edge.store.repository import WebSession, WebSessionRepository

US = 1_000_000
#: a session's last use is written at most this often (one write, not one per request)
TOUCH_S = 30


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    sid: str  # the cookie value; only its sha256 is stored
    user: str
    token_sha256: str
    csrf: str


class SessionStore:
    def __init__(self, config: WebConfig, repo: WebSessionRepository) -> None:
        self._idle_us = config.session_idle_s * US
        self._max_us = config.session_max_s * US
        self._repo = repo

    def create(self, user: str, token_sha256: str, now_us: int) -> Session:
        self._repo.delete_expired_sessions(now_us - self._idle_us, now_us - self._max_us)
        session = Session(secrets.token_urlsafe(32), user, token_sha256, secrets.token_urlsafe(32))
        self._repo.put_session(
            WebSession(_key(session.sid), user, token_sha256, session.csrf, now_us, now_us)
        )
        return session

    def get(self, sid: str, now_us: int) -> Session | None:
        key = _key(sid)
        stored = self._repo.get_session(key)
        if stored is None:
            return None
        if now_us - stored.last_us > self._idle_us or now_us - stored.created_us > self._max_us:
            self._repo.delete_session(key)
            return None
        if now_us - stored.last_us >= TOUCH_S * US:
            self._repo.touch_session(key, now_us)
        return Session(sid, stored.user, stored.token_sha256, stored.csrf)

    def drop(self, sid: str) -> None:
        self._repo.delete_session(_key(sid))

    def drop_user(self, user: str) -> None:
        self._repo.delete_user_sessions(user)

    def remember(self, session: Session, event_ids: Sequence[str], now_us: int) -> None:
        """Events an audited search of ``session`` returned (for their thumbnails)."""
        self._repo.remember_events(_key(session.sid), event_ids, now_us)

    def has_seen(self, session: Session, event_id: str) -> bool:
        return self._repo.has_seen_event(_key(session.sid), event_id)


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
