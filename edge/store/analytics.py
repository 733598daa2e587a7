"""Where matches concentrate: server-side aggregation for the analytics page.

Every figure is one GROUP BY in SQL over indexed columns (events.captured_at_us and
camera_id, the event_plates and event_subjects side tables), so the same statements
run on SQLite and PostgreSQL and no event is loaded into memory to be counted. Time
buckets are integer division of (captured_at_us + UTC offset) by the bucket length,
so hours and days are those of the deployment's local time (China has no daylight
saving time, so a fixed offset is exact). Rejected matches are false alarms and are
left out unless asked for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from edge.errors import QueryError
from edge.store.sql import Database, Tx

if TYPE_CHECKING:
    from edge.store.analytics_locations import LocationReport
    from edge.store.locations import KeyLocation

log = logging.getLogger(__name__)

Granularity = Literal["hour", "day"]
BUCKET_US: dict[str, int] = {"hour": 3_600_000_000, "day": 86_400_000_000}
MAX_BUCKETS = 2000
MAX_TOP = 100


@dataclass(frozen=True, slots=True)
class AnalyticsQuery:
    since_us: int
    until_us: int
    granularity: Granularity = "hour"
    utc_offset_us: int = 0
    include_rejected: bool = False
    top: int = 10
    #: "repeat" means seen at least this often in the range
    min_repeats: int = 2


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    gateway_id: str
    camera_id: str
    bucket_start_us: int  # UTC microseconds of the local bucket's start
    count: int


@dataclass(frozen=True, slots=True)
class CameraCount:
    gateway_id: str
    camera_id: str
    count: int
    last_us: int
    location: tuple[float, float] | None  # lat, lon of the camera's latest event


@dataclass(frozen=True, slots=True)
class RepeatPlate:
    text: str
    count: int
    cameras: int
    first_us: int
    last_us: int


@dataclass(frozen=True, slots=True)
class RepeatSubject:
    subject_id: str
    label: str | None
    count: int
    cameras: int
    last_us: int


@dataclass(frozen=True, slots=True)
class AnalyticsReport:
    query: AnalyticsQuery
    total: int
    buckets: tuple[int, ...]  # every bucket start of the range, for charts with gaps
    series: tuple[SeriesPoint, ...]
    cameras: tuple[CameraCount, ...]
    plates: tuple[RepeatPlate, ...]
    subjects: tuple[RepeatSubject, ...]


class Analytics(Protocol):
    def report(self, query: AnalyticsQuery) -> AnalyticsReport: ...

    def location_report(
        self, query: AnalyticsQuery, locations: Sequence[KeyLocation]
    ) -> LocationReport: ...


def validate(q: AnalyticsQuery) -> None:
    if q.granularity not in BUCKET_US:
        raise QueryError(f"granularity must be hour or day (got {q.granularity!r})")
    if q.since_us >= q.until_us:
        raise QueryError("the range must start before it ends")
    n = -(-(q.until_us - q.since_us) // BUCKET_US[q.granularity])
    if n > MAX_BUCKETS:
        raise QueryError(
            f"the range has {n} {q.granularity} buckets; at most {MAX_BUCKETS} "
            "(choose a shorter range or day buckets)"
        )
    if not 1 <= q.top <= MAX_TOP:
        raise QueryError(f"top must be 1..{MAX_TOP} (got {q.top})")
    if q.min_repeats < 1:
        raise QueryError("min_repeats must be at least 1")


def bucket_starts(q: AnalyticsQuery) -> tuple[int, ...]:
    """UTC start of every local bucket that overlaps [since, until)."""
    size = BUCKET_US[q.granularity]
    first = (q.since_us + q.utc_offset_us) // size
    last = (q.until_us - 1 + q.utc_offset_us) // size
    return tuple(i * size - q.utc_offset_us for i in range(first, last + 1))


def where_clause(
    q: AnalyticsQuery, time_col: str, since: int | None = None, until: int | None = None
) -> tuple[str, list[Any]]:
    """The range (the query's, or [since, until)) and the rejected filter, bound."""
    sql = f"{time_col} >= ? AND {time_col} < ?"
    params: list[Any] = [
        q.since_us if since is None else since,
        q.until_us if until is None else until,
    ]
    if not q.include_rejected:
        sql += " AND (e.verdict IS NULL OR e.verdict <> 'rejected')"
    return sql, params


def _location(canonical: str) -> tuple[float, float] | None:
    loc = json.loads(canonical).get("location")
    if not loc or len(loc) != 2:
        return None
    return float(loc[0]), float(loc[1])


class SqlAnalytics:
    """Implements ``Analytics`` on the store's own database (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def report(self, query: AnalyticsQuery) -> AnalyticsReport:
        validate(query)
        with self._db.read() as tx:  # one snapshot: the figures agree with each other
            series = self._series(tx, query)
            cameras = self._cameras(tx, query)
            plates = self._plates(tx, query)
            subjects = self._subjects(tx, query)
        return AnalyticsReport(
            query=query,
            total=sum(c.count for c in cameras),
            buckets=bucket_starts(query),
            series=series,
            cameras=cameras,
            plates=plates,
            subjects=subjects,
        )

    def location_report(
        self, query: AnalyticsQuery, locations: Sequence[KeyLocation]
    ) -> LocationReport:
        """Key locations: counts and trend, heat by hour of day, repeat subjects."""
        from edge.store.analytics_locations import location_report

        validate(query)
        with self._db.read() as tx:
            return location_report(tx, query, locations)

    def _series(self, tx: Tx, q: AnalyticsQuery) -> tuple[SeriesPoint, ...]:
        size = BUCKET_US[q.granularity]
        where, params = where_clause(q, "e.captured_at_us")
        rows = tx.rows(
            "SELECT e.gateway_id, e.camera_id, (e.captured_at_us + ?) / ? AS bucket, COUNT(*)"
            f" FROM events e WHERE {where} GROUP BY 1, 2, 3 ORDER BY 3, 1, 2",
            [q.utc_offset_us, size, *params],
        )
        return tuple(
            SeriesPoint(str(r[0]), str(r[1]), int(r[2]) * size - q.utc_offset_us, int(r[3]))
            for r in rows
        )

    def _cameras(self, tx: Tx, q: AnalyticsQuery) -> tuple[CameraCount, ...]:
        where, params = where_clause(q, "e.captured_at_us")
        rows = tx.rows(
            "SELECT l.gateway_id, l.camera_id, l.n, l.m, e.canonical FROM"
            " (SELECT e.gateway_id, e.camera_id, COUNT(*) AS n, MAX(e.captured_at_us) AS m"
            f"  FROM events e WHERE {where} GROUP BY e.gateway_id, e.camera_id) l"
            " JOIN events e ON e.gateway_id = l.gateway_id AND e.camera_id = l.camera_id"
            " AND e.captured_at_us = l.m ORDER BY l.n DESC, l.gateway_id, l.camera_id, e.id",
            params,
        )
        out: dict[tuple[str, str], CameraCount] = {}
        for gw, cam, n, m, canonical in rows:
            key = (str(gw), str(cam))
            if key not in out:  # ties on the newest time: any of them gives the location
                out[key] = CameraCount(key[0], key[1], int(n), int(m), _location(canonical))
        return tuple(out.values())

    def _plates(self, tx: Tx, q: AnalyticsQuery) -> tuple[RepeatPlate, ...]:
        where, params = where_clause(q, "p.captured_at_us")
        rows = tx.rows(
            "SELECT p.text, COUNT(*), COUNT(DISTINCT e.gateway_id || '/' || e.camera_id),"
            " MIN(p.captured_at_us), MAX(p.captured_at_us)"
            f" FROM event_plates p JOIN events e ON e.id = p.event_id WHERE {where}"
            " GROUP BY p.text HAVING COUNT(*) >= ? ORDER BY 2 DESC, 1 LIMIT ?",
            [*params, q.min_repeats, q.top],
        )
        return tuple(
            RepeatPlate(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows
        )

    def _subjects(self, tx: Tx, q: AnalyticsQuery) -> tuple[RepeatSubject, ...]:
        where, params = where_clause(q, "x.captured_at_us")
        rows = tx.rows(
            "SELECT x.subject_id, s.label, COUNT(*),"
            " COUNT(DISTINCT e.gateway_id || '/' || e.camera_id), MAX(x.captured_at_us)"
            " FROM event_subjects x JOIN events e ON e.id = x.event_id"
            f" LEFT JOIN subjects s ON s.id = x.subject_id WHERE {where}"
            " GROUP BY x.subject_id, s.label HAVING COUNT(*) >= ? ORDER BY 3 DESC, 1 LIMIT ?",
            [*params, q.min_repeats, q.top],
        )
        return tuple(
            RepeatSubject(
                str(r[0]), None if r[1] is None else str(r[1]), int(r[2]), int(r[3]), int(r[4])
            )
            for r in rows
        )
