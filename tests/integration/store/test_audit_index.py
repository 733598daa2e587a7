"""The audit trail of an event is an index lookup (audit_subjects), on SQLite and
PostgreSQL, and databases made before the index existed are backfilled on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from edge.store.audit import Auditor
from edge.store.postgres_repo import postgres_repository
from edge.store.sql_admin import audit_about_sql
from edge.store.sql_repo import SqlRepository
from edge.store.sqlite_repo import sqlite_repository

UNRELATED = 400


def fill(repo: SqlRepository) -> dict[str, list[int]]:
    """A log where a few entries name "evt-a"/"evt-b" among many about other events;
    returns the seqs expected per event id."""
    auditor = Auditor(repo.audit, clock=lambda: 1_000)
    want: dict[str, list[int]] = {"evt-a": [], "evt-b": []}
    for i in range(UNRELATED):
        detail: dict[str, object] = {"event_ids": [f"other-{i}", f"other-{i + 1}"]}
        if i % 100 == 7:
            detail = {"event_id": "evt-a", "name": "scene.jpg"}
            want["evt-a"].append(auditor.record("ann", "review.blob", detail).seq)
            continue
        if i % 100 == 50:  # one search naming both: one entry in a two-event trail
            detail = {"event_ids": ["evt-b", "other-x", "evt-a"], "filters": {}}
            seq = auditor.record("ann", "review.search", detail).seq
            want["evt-a"].append(seq)
            want["evt-b"].append(seq)
            continue
        # ids that only look alike, and details without events, name nothing we want
        if i % 3 == 0:
            detail = {"event_id": "evt-aa", "note": "evt-a"}
        auditor.record("ann", "review.view", detail)
    return want


def test_trail_of_one_event_is_exact_among_many_entries(repo: SqlRepository) -> None:
    want = fill(repo)
    auditor = Auditor(repo.audit, clock=lambda: 1_000)
    trail = auditor.entries_about({"evt-a"})
    assert [t["seq"] for t in trail] == want["evt-a"] and len(trail) == 8
    blob = trail[0]
    assert blob["action"] == "review.blob" and blob["detail"] == {
        "event_id": "evt-a",
        "name": "scene.jpg",
    }
    stored = repo.audit.entries(after_seq=blob["seq"] - 1, limit=1)[0]
    assert (blob["entry_hash"], blob["prev_hash"]) == (stored.entry_hash, stored.prev_hash)
    both = auditor.entries_about({"evt-a", "evt-b"})
    assert [t["seq"] for t in both] == sorted(set(want["evt-a"]) | set(want["evt-b"]))
    assert [t["seq"] for t in auditor.entries_about({"evt-a"}, limit=3)] == want["evt-a"][:3]
    assert auditor.entries_about({"evt-none"}) == []


def test_trail_lookup_spans_id_chunks(repo: SqlRepository) -> None:
    auditor = Auditor(repo.audit, clock=lambda: 1_000)
    ids = [f"e-{i:04d}" for i in range(1200)]  # more ids than one IN list holds
    first = auditor.record("ann", "review.export", {"event_ids": ids[:3]}).seq
    last = auditor.record("ann", "review.view", {"event_id": ids[-1]}).seq
    auditor.record("ann", "review.view", {"event_id": "elsewhere"})
    assert [t["seq"] for t in auditor.entries_about(set(ids))] == [first, last]


def test_sqlite_trail_query_searches_indexes_only(tmp_path: Path) -> None:
    repo = sqlite_repository(tmp_path / "store.db")
    repo.open()
    try:
        fill(repo)
    finally:
        repo.close()
    with sqlite3.connect(tmp_path / "store.db") as conn:
        for n in (1, 2):
            sql = audit_about_sql(n)
            plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, ["evt-a"] * n + [5])]
            assert not [p for p in plan if p.startswith("SCAN")], plan
            assert any(
                p.startswith("SEARCH audit_subjects USING") and "(event_id=?)" in p for p in plan
            ), plan
            assert any(p.startswith("SEARCH audit_log USING") for p in plan), plan


def _as_schema_1(repo: SqlRepository, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Make the repository's database look like one written by a store without the index."""
    statements = [
        "DROP TABLE audit_subjects",
        "UPDATE meta SET value = '1' WHERE key = 'schema_version'",
    ]
    if repo.backend == "sqlite":
        with sqlite3.connect(tmp_path / "store.db") as conn:
            for s in statements:
                conn.execute(s)
    else:
        with psycopg.connect(request.getfixturevalue("pg_url"), autocommit=True) as pg:
            for s in statements:
                pg.execute(s)


def _reopen(repo: SqlRepository, tmp_path: Path, request: pytest.FixtureRequest) -> SqlRepository:
    if repo.backend == "sqlite":
        return sqlite_repository(tmp_path / "store.db")
    return postgres_repository(request.getfixturevalue("pg_url"))


def test_database_without_the_index_is_backfilled_on_open(
    repo: SqlRepository, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    want = fill(repo)
    repo.close()
    _as_schema_1(repo, tmp_path, request)
    again = _reopen(repo, tmp_path, request)
    again.open()
    try:
        auditor = Auditor(again.audit, clock=lambda: 2_000)
        assert [t["seq"] for t in auditor.entries_about({"evt-a"})] == want["evt-a"]
        assert [t["seq"] for t in auditor.entries_about({"evt-b"})] == want["evt-b"]
        new = auditor.record("bob", "review.view", {"event_id": "evt-b"}).seq
        assert [t["seq"] for t in auditor.entries_about({"evt-b"})] == [*want["evt-b"], new]
        assert auditor.verify().ok
    finally:
        again.close()
    # the next open finds schema 2: the trail (old and new entries) stays as it was
    third = _reopen(repo, tmp_path, request)
    third.open()
    try:
        trail = Auditor(third.audit, clock=lambda: 3_000).entries_about({"evt-b"})
        assert [t["seq"] for t in trail] == [*want["evt-b"], new]
    finally:
        third.close()
