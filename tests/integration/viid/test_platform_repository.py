"""The push queue and the rule tables: one test suite on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.store.platform_schema import add_column, columns, platform_statements
from edge.store.postgres_repo import PostgresDatabase
from edge.store.sql import Database
from edge.store.sqlite_repo import SqliteDatabase
from edge.store.viid_queue import ViidQueue

T0 = 1_800_000_000_000_000
LEASE = 120_000_000


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        d: Database = SqliteDatabase(tmp_path / "store.db")
    else:
        make: Callable[[], str] = request.getfixturevalue("pg_schema")
        d = PostgresDatabase(make())
    d.open()
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def queue(db: Database) -> ViidQueue:
    q = ViidQueue(db)
    q.open()
    q.open()  # idempotent
    return q


def test_enqueue_is_once_per_event_and_kind(queue: ViidQueue) -> None:
    assert queue.enqueue("e1", ["MotorVehicle", "Face"], "confirmed", "person:r", T0) == [
        "MotorVehicle",
        "Face",
    ]
    assert queue.enqueue("e1", ["Face"], "rule:x", "rule:x", T0 + 1) == []
    added = queue.enqueue_many([("e1", ["MotorVehicle"]), ("e2", ["Face"])], "all", "s", T0)
    assert added == {"e1": [], "e2": ["Face"]}
    rows = queue.for_event("e1")
    assert [(r.kind, r.reason, r.state) for r in rows] == [
        ("Face", "confirmed", "pending"),
        ("MotorVehicle", "confirmed", "pending"),
    ]
    s = queue.stats()
    assert (s.pending, s.delivered, s.oldest_pending_us) == (3, 0, T0)


def test_claims_are_leased_batched_by_kind_and_released(queue: ViidQueue) -> None:
    for i in range(5):
        queue.enqueue(f"e{i}", ["Face"], "all", "s", T0 + i)
    queue.enqueue("m", ["MotorVehicle"], "all", "s", T0 + 10)
    first = queue.claim(T0 + 100, 3, LEASE)
    assert [c.event_id for c in first] == ["e0", "e1", "e2"] and {c.kind for c in first} == {"Face"}
    second = queue.claim(T0 + 100, 10, LEASE)  # leased rows are not handed out twice
    assert [c.event_id for c in second] == ["e3", "e4"]
    assert [c.kind for c in queue.claim(T0 + 100, 10, LEASE)] == ["MotorVehicle"]
    assert queue.claim(T0 + 100, 10, LEASE) == []
    queue.release([c.push_id for c in first], T0 + 200)
    assert sorted(c.event_id for c in queue.claim(T0 + 200, 10, LEASE)) == ["e0", "e1", "e2"]
    # an expired lease (a crashed sender) is claimable again
    expired = queue.claim(T0 + 100 + LEASE + 1, 10, LEASE)
    assert sorted(c.event_id for c in expired) == ["e3", "e4"]


def test_payload_is_fixed_once_and_outcomes_recorded(queue: ViidQueue) -> None:
    queue.enqueue("e1", ["Face"], "all", "s", T0)
    [c] = queue.claim(T0, 1, LEASE)
    assert c.payload is None
    queue.set_payload(c.push_id, json.dumps([{"FaceID": "a"}]), ["a"])
    queue.set_payload(c.push_id, json.dumps([{"FaceID": "b"}]), ["b"])  # ignored: fixed
    queue.finish(c.push_id, "pending", 1, T0 + 50, "HTTP 503", T0)
    assert queue.claim(T0 + 10, 1, LEASE) == []  # not due yet
    [again] = queue.claim(T0 + 50, 1, LEASE)
    assert json.loads(again.payload or "") == [{"FaceID": "a"}] and again.attempts == 1
    queue.finish(again.push_id, "delivered", 2, T0 + 60, "HTTP 200", T0 + 60)
    rec = queue.get(again.push_id)
    assert rec is not None and rec.state == "delivered" and rec.delivered_at_us == T0 + 60
    assert rec.object_ids == ("a",) and rec.last_status == "HTTP 200"
    assert queue.next_due_us() is None and queue.stats().delivered == 1


def test_refused_rows_are_sent_again_only_on_request_and_unsent_ones_cancel(
    queue: ViidQueue,
) -> None:
    queue.enqueue("e1", ["Face"], "confirmed", "s", T0)
    [c] = queue.claim(T0, 10, LEASE)
    queue.finish(c.push_id, "refused", 1, T0, "StatusCode 8", T0)
    queue.enqueue("e1", ["Face"], "transfer", "s", T0 + 1)  # already there: no effect
    assert queue.stats().refused == 1 and queue.claim(T0 + 1, 10, LEASE) == []
    assert queue.requeue("e1", ["Face"], T0 + 2) == 1
    [again] = queue.claim(T0 + 2, 10, LEASE)
    assert again.push_id == c.push_id and again.attempts == 0
    # rejected before sending: pending rows not leased are cancelled, leased ones kept
    queue.enqueue("e2", ["MotorVehicle", "Face"], "confirmed", "s", T0 + 3)
    [leased] = queue.claim(T0 + 3, 1, LEASE)
    cancelled = queue.cancel_unsent("e2", T0 + 4)
    assert cancelled == [k for k in ("MotorVehicle", "Face") if k != leased.kind]
    assert queue.stats().cancelled == 1 and queue.requeue("e2", cancelled, T0 + 5) == 1


def test_tables_exist_on_both_and_columns_are_added_once(db: Database) -> None:
    db.migrate(platform_statements(db.dialect))
    db.migrate(["CREATE TABLE IF NOT EXISTS t_old (id TEXT PRIMARY KEY)"])
    add_column(db, "t_old", "purpose", "TEXT NOT NULL DEFAULT 'case'")
    add_column(db, "t_old", "purpose", "TEXT NOT NULL DEFAULT 'case'")
    assert {"id", "purpose"} <= columns(db, "t_old")
    assert {"event_id", "rule_id", "state"} <= columns(db, "rule_hits")
    assert {"rule_json", "source"} <= columns(db, "dispatch_rules")
