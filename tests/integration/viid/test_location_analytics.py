"""Key-location analytics on SQLite and PostgreSQL: counts, trend, heat, repeats."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from edge.evidence.model import GENESIS_HASH, MatchEvent, canonical_bytes, event_hash
from edge.store.analytics import AnalyticsQuery, SqlAnalytics
from edge.store.linking import classify_link
from edge.store.locations import KeyLocation
from edge.store.postgres_repo import PostgresDatabase
from edge.store.repository import EventQuery, NewEvent, StoredBlob
from edge.store.sql import Database
from edge.store.sql_repo import SqlRepository
from edge.store.sqlite_repo import SqliteDatabase
from tests.support.samples import sample_event

HOUR = 3_600_000_000
DAY = 24 * HOUR
OFFSET = 8 * HOUR
BASE = 1_749_916_800_000_000  # 2025-06-15 00:00 in UTC+8 (a local midnight)

LOCATIONS = [
    KeyLocation.model_validate({"id": "east", "name": "东门", "cameras": ["gw-1/cam-1"],
                                "point": {"lat": 22.5, "lon": 114.0}}),
    KeyLocation.model_validate({"id": "market", "name": "市场", "cameras": ["gw-1/cam-2", "gw-2/*"],
                                "polygon": [[22.0, 114.0], [22.0, 114.2], [22.2, 114.1]]}),
    KeyLocation.model_validate({"id": "quiet", "name": "Q", "cameras": ["gw-3/*"],
                                "point": {"lat": 1.0, "lon": 1.0}}),
]  # fmt: skip
#: (gateway, camera, hours after BASE, subject); day 0 is the previous period
PLAN = [
    ("gw-1", "cam-1", 8, "subj-7"),
    ("gw-1", "cam-1", 24 + 8, "subj-7"),
    ("gw-1", "cam-1", 24 + 8, "subj-7"),
    ("gw-1", "cam-1", 24 + 9, "subj-7"),
    ("gw-1", "cam-2", 24 + 20, "subj-8"),
    ("gw-2", "cam-1", 24 + 20, "subj-8"),
    ("gw-2", "cam-1", 24 + 21, "subj-8"),
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        d: Database = SqliteDatabase(tmp_path / "store.db")
    else:
        make: Callable[[], str] = request.getfixturevalue("pg_schema")
        d = PostgresDatabase(make())
    repo = SqlRepository(d)
    repo.open()
    for gw in ("gw-1", "gw-2"):
        repo.gateways.register_gateway(gw, bytes(32), None, BASE)
    prev = {"gw-1": GENESIS_HASH, "gw-2": GENESIS_HASH}
    seq = {"gw-1": 0, "gw-2": 0}
    for i, (gw, cam, hour, subject) in enumerate(PLAN):
        seq[gw] += 1
        e, _ = sample_event(
            seq[gw], prev[gw], gw, camera_id=cam, captured_at_us=BASE + hour * HOUR + i
        )
        faces = tuple(dataclasses.replace(f, subject_id=subject) for f in e.faces)
        plates = tuple(dataclasses.replace(p, subject_id=subject) for p in e.plates)
        e = dataclasses.replace(e, faces=faces, plates=plates)
        insert(repo, e)
        prev[gw] = event_hash(e)
    try:
        yield d
    finally:
        repo.close()


def insert(repo: SqlRepository, e: MatchEvent) -> None:
    new = NewEvent(e, canonical_bytes(e), event_hash(e), b"s" * 64, e.captured_at_us)
    blobs = [StoredBlob(b.name, b.role, b.media_type, b.sha256, b.size) for b in e.blobs]
    assert repo.events.insert_event(new, blobs, partial(classify_link, e)).status == "inserted"


def test_locations_count_trend_heat_and_repeats(db: Database) -> None:
    q = AnalyticsQuery(BASE + DAY, BASE + 2 * DAY, "hour", OFFSET, min_repeats=2)
    r = SqlAnalytics(db).location_report(q, LOCATIONS)
    by = {c.location_id: c for c in r.locations}
    assert [c.location_id for c in r.locations] == ["east", "market", "quiet"]  # busiest first
    assert (by["east"].count, by["east"].previous, by["east"].cameras) == (3, 1, 1)
    assert by["east"].change == pytest.approx(2.0)
    assert (by["market"].count, by["market"].previous, by["market"].cameras) == (3, 0, 2)
    assert by["market"].change is None and by["quiet"].count == 0
    assert by["market"].center == pytest.approx((22.0667, 114.1), abs=1e-3)
    assert r.heat["east"][8] == 2 and r.heat["east"][9] == 1 and sum(r.heat["east"]) == 3
    assert r.heat["market"][20] == 2 and r.heat["market"][21] == 1
    assert sum(r.heat["quiet"]) == 0
    reps = {(x.location_id, x.subject_id): x for x in r.repeats}
    assert set(reps) == {("east", "subj-7"), ("market", "subj-8")}
    assert (reps["market", "subj-8"].count, reps["market", "subj-8"].cameras) == (3, 2)


def test_rejected_matches_are_left_out_unless_asked(db: Database) -> None:
    repo = SqlRepository(db)
    q = AnalyticsQuery(BASE + DAY, BASE + 2 * DAY, "hour", OFFSET)
    report = SqlAnalytics(db).location_report(q, LOCATIONS)
    east = next(c for c in report.locations if c.location_id == "east")
    page = repo.events.search(EventQuery(camera_id="cam-1", gateway_id="gw-1", since_us=BASE + DAY))
    repo.events.set_verdict(page.events[0].event.event_id, "rejected", "no", "r", BASE + 3 * DAY)
    after = SqlAnalytics(db).location_report(q, LOCATIONS)
    assert next(c for c in after.locations if c.location_id == "east").count == east.count - 1
    wide = SqlAnalytics(db).location_report(
        dataclasses.replace(q, include_rejected=True), LOCATIONS
    )
    assert next(c for c in wide.locations if c.location_id == "east").count == east.count
