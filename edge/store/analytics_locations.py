"""High-incidence analysis by key location (重要点位、高发问题分析).

Figures per camera come from SQL (GROUP BY over the same indexed columns as the rest
of edge/store/analytics.py); the cameras are then summed into the key locations that
tag them (edge/store/locations.py). A camera may belong to several locations and
counts for each. For every location: matches in the range and in the period just
before it (the trend), matches per local hour of day (the heat), and the subjects seen
there repeatedly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from edge.store.analytics import AnalyticsQuery, where_clause
from edge.store.locations import KeyLocation
from edge.store.sql import Tx

HOUR_US = 3_600_000_000


@dataclass(frozen=True, slots=True)
class LocationCount:
    location_id: str
    name: str
    center: tuple[float, float]
    count: int
    previous: int  # the same length of time just before the range
    cameras: int  # tagged cameras that saw matches in the range

    @property
    def change(self) -> float | None:
        """Relative change against the previous period (None when that had none)."""
        return None if self.previous == 0 else (self.count - self.previous) / self.previous


@dataclass(frozen=True, slots=True)
class LocationRepeat:
    location_id: str
    subject_id: str
    label: str | None
    count: int
    cameras: int
    last_us: int


@dataclass(frozen=True, slots=True)
class LocationReport:
    query: AnalyticsQuery
    locations: tuple[LocationCount, ...]  # busiest first
    heat: dict[str, tuple[int, ...]]  # location id -> 24 counts by local hour of day
    repeats: tuple[LocationRepeat, ...]


Cam = tuple[str, str]


def _per_camera(tx: Tx, q: AnalyticsQuery, since: int, until: int) -> dict[Cam, int]:
    where, params = where_clause(q, "e.captured_at_us", since, until)
    rows = tx.rows(
        f"SELECT e.gateway_id, e.camera_id, COUNT(*) FROM events e WHERE {where} GROUP BY 1, 2",
        params,
    )
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


def _hours(tx: Tx, q: AnalyticsQuery) -> dict[Cam, list[int]]:
    where, params = where_clause(q, "e.captured_at_us")
    rows = tx.rows(
        "SELECT e.gateway_id, e.camera_id, ((e.captured_at_us + ?) / ?) % 24, COUNT(*)"
        f" FROM events e WHERE {where} GROUP BY 1, 2, 3",
        [q.utc_offset_us, HOUR_US, *params],
    )
    out: dict[Cam, list[int]] = defaultdict(lambda: [0] * 24)
    for gw, cam, hour, n in rows:
        out[(str(gw), str(cam))][int(hour)] += int(n)
    return out


def _subjects(tx: Tx, q: AnalyticsQuery) -> list[tuple[Cam, str, str | None, int, int]]:
    where, params = where_clause(q, "x.captured_at_us")
    rows = tx.rows(
        "SELECT e.gateway_id, e.camera_id, x.subject_id, s.label, COUNT(*),"
        " MAX(x.captured_at_us) FROM event_subjects x JOIN events e ON e.id = x.event_id"
        f" LEFT JOIN subjects s ON s.id = x.subject_id WHERE {where}"
        " GROUP BY e.gateway_id, e.camera_id, x.subject_id, s.label",
        params,
    )
    return [
        ((str(r[0]), str(r[1])), str(r[2]), None if r[3] is None else str(r[3]), int(r[4]),
         int(r[5]))
        for r in rows
    ]  # fmt: skip


def _repeats(
    q: AnalyticsQuery,
    loc: KeyLocation,
    seen: list[tuple[Cam, str, str | None, int, int]],
) -> list[LocationRepeat]:
    per: dict[str, list[tuple[str | None, int, int]]] = defaultdict(list)
    for cam, sid, label, n, last in seen:
        if loc.covers(*cam):
            per[sid].append((label, n, last))
    out = []
    for sid, hits in per.items():
        total = sum(h[1] for h in hits)
        if total >= q.min_repeats:
            last = max(h[2] for h in hits)
            out.append(LocationRepeat(loc.id, sid, hits[0][0], total, len(hits), last))
    out.sort(key=lambda r: (-r.count, r.subject_id))
    return out[: q.top]


def location_report(tx: Tx, q: AnalyticsQuery, locations: Sequence[KeyLocation]) -> LocationReport:
    length = q.until_us - q.since_us
    now = _per_camera(tx, q, q.since_us, q.until_us)
    before = _per_camera(tx, q, q.since_us - length, q.since_us)
    hours = _hours(tx, q)
    seen = _subjects(tx, q)
    counts, heat, repeats = [], {}, []
    for loc in locations:
        mine = [c for c in set(now) | set(before) | set(hours) if loc.covers(*c)]
        counts.append(
            LocationCount(
                loc.id,
                loc.name,
                loc.center,
                sum(now.get(c, 0) for c in mine),
                sum(before.get(c, 0) for c in mine),
                sum(1 for c in mine if now.get(c, 0)),
            )
        )
        heat[loc.id] = tuple(sum(hours[c][h] for c in mine if c in hours) for h in range(24))
        repeats.extend(_repeats(q, loc, seen))
    counts.sort(key=lambda c: (-c.count, c.location_id))
    return LocationReport(q, tuple(counts), heat, tuple(repeats))
