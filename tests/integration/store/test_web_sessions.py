"""Reviewer page sessions in the database (SQLite and PostgreSQL, see conftest.repo)."""

from __future__ import annotations

import hashlib

from edge.store import sql_sessions
from edge.store.config import WebConfig
from edge.store.sql_repo import SqlRepository
from edge.store.web.sessions import SessionStore

S = 1_000_000


def _store(repo: SqlRepository) -> SessionStore:
    return SessionStore(WebConfig(session_idle_s=60, session_max_s=300), repo.sessions)


def test_sessions_expire_when_idle_and_at_their_maximum(repo: SqlRepository) -> None:
    store = _store(repo)
    s = store.create("reviewer", "h" * 64, 0)
    assert len(s.sid) >= 40 and len(s.csrf) >= 40 and s.sid != s.csrf
    assert store.get(s.sid, 59 * S) == s
    assert store.get(s.sid, 59 * S + 61 * S) is None  # idle too long
    s2 = store.create("reviewer", "h" * 64, 0)
    for t in range(50, 300, 50):
        assert store.get(s2.sid, t * S) == s2
    assert store.get(s2.sid, 301 * S) is None  # hard limit despite activity
    s3 = store.create("viewer", "v" * 64, 0)
    store.drop_user("viewer")
    assert store.get(s3.sid, 1) is None
    assert store.get("made-up", 1) is None


def test_a_session_outlives_the_process_and_only_its_hash_is_stored(
    repo: SqlRepository,
) -> None:
    s = _store(repo).create("reviewer", "h" * 64, 10 * S)
    other_process = _store(repo)  # same database, new process state
    assert other_process.get(s.sid, 20 * S) == s
    stored = repo.sessions.get_session(s.sid)
    assert stored is None  # looked up by hash only: the raw id is nowhere in the table
    other_process.drop(s.sid)
    assert _store(repo).get(s.sid, 21 * S) is None


def test_expired_sessions_are_deleted_at_the_next_login(repo: SqlRepository) -> None:
    store = _store(repo)
    old = store.create("reviewer", "h" * 64, 0)
    store.remember(old, ["e-1"], 0)
    store.create("reviewer", "h" * 64, 1_000 * S)  # long after: the old row goes
    old_key = hashlib.sha256(old.sid.encode()).hexdigest()
    assert repo.sessions.get_session(old_key) is None  # the row itself, not just expired
    assert not store.has_seen(old, "e-1")


def test_searched_events_are_remembered_per_session_newest_kept(repo: SqlRepository) -> None:
    store = _store(repo)
    a = store.create("reviewer", "h" * 64, 0)
    b = store.create("reviewer", "h" * 64, 0)
    store.remember(a, ["e-1", "e-2", "e-1"], 1)
    assert store.has_seen(a, "e-1") and store.has_seen(a, "e-2")
    assert not store.has_seen(b, "e-1")  # another session of the same user saw nothing
    many = [f"x-{i:05d}" for i in range(sql_sessions.MAX_SEEN + 10)]
    store.remember(a, many, 2)
    store.remember(a, ["e-3"], 3)
    assert store.has_seen(a, "e-3")
    assert not store.has_seen(a, "e-1")  # older than the newest MAX_SEEN
    kept = sum(store.has_seen(a, e) for e in ["e-3", *many])
    assert kept == sql_sessions.MAX_SEEN
