"""SQL aggregation for the analytics page, on SQLite and PostgreSQL, against the plan."""

from __future__ import annotations

import dataclasses
import re
import sys
from collections import Counter
from typing import Any

import pytest

from edge.errors import QueryError
from edge.store.analytics import AnalyticsQuery, SqlAnalytics, bucket_starts

pytestmark = pytest.mark.timeout(120)
helpers = sys.modules["edgewatch_web_test_helpers"]  # loaded by conftest.py
BASE_US = helpers.BASE_US
CAMERAS = helpers.CAMERAS
HOUR_US = helpers.HOUR_US
PLAN = helpers.PLAN
SUBJECTS = helpers.SUBJECTS

OFFSET_US = 8 * HOUR_US  # the demo's local time is UTC+8; BASE_US is local midnight
DAY_US = 24 * HOUR_US


def analytics(stack: Any) -> SqlAnalytics:
    return SqlAnalytics(stack.local.db)


def rejected(stack: Any) -> set[tuple[str, int]]:
    out = set()
    for e in stack.seeded.events:
        s = stack.local.repo.events.get_event(e.event_id)
        if s.verdict == "rejected":
            out.add((e.gateway_id, e.captured_at_us))
    return out


def test_daily_counts_per_camera_in_local_days(stack: Any) -> None:
    q = AnalyticsQuery(BASE_US, BASE_US + 4 * DAY_US, "day", OFFSET_US, include_rejected=True)
    r = analytics(stack).report(q)
    want = Counter((gw, cam, hour // 24) for gw, cam, hour, *_ in PLAN)
    got = Counter()
    for p in r.series:
        day = (p.bucket_start_us - BASE_US) // DAY_US
        assert (p.bucket_start_us - BASE_US) % DAY_US == 0  # buckets start at local midnight
        got[(p.gateway_id, p.camera_id, day)] += p.count
    assert got == want
    assert r.total == len(PLAN)
    assert r.buckets == tuple(BASE_US + i * DAY_US for i in range(4))


def test_utc_day_buckets_differ_for_early_local_hours(stack: Any) -> None:
    local = AnalyticsQuery(BASE_US, BASE_US + 4 * DAY_US, "day", OFFSET_US, include_rejected=True)
    utc = AnalyticsQuery(BASE_US, BASE_US + 4 * DAY_US, "day", 0, include_rejected=True)
    a = analytics(stack)
    assert {p.bucket_start_us for p in a.report(local).series} != {
        p.bucket_start_us for p in a.report(utc).series
    }


def test_hourly_counts_of_one_day(stack: Any) -> None:
    q = AnalyticsQuery(BASE_US, BASE_US + DAY_US, "hour", OFFSET_US, include_rejected=True)
    r = analytics(stack).report(q)
    want = Counter((gw, cam, hour) for gw, cam, hour, *_ in PLAN if hour < 24)
    got = Counter(
        {
            (p.gateway_id, p.camera_id, (p.bucket_start_us - BASE_US) // HOUR_US): p.count
            for p in r.series
        }
    )
    assert got == want
    assert len(r.buckets) == 24


def test_top_repeat_plates_subjects_and_cameras(stack: Any) -> None:
    q = AnalyticsQuery(BASE_US, BASE_US + 4 * DAY_US, "day", OFFSET_US, include_rejected=True)
    r = analytics(stack).report(q)
    plates = Counter(SUBJECTS[s][1] for _, _, _, s, _, plate in PLAN if plate)
    assert [(p.text, p.count) for p in r.plates] == sorted(
        ((t, n) for t, n in plates.items() if n >= 2), key=lambda x: (-x[1], x[0])
    )
    subjects = Counter(s for *_, s, _, _ in PLAN)
    assert {(s.subject_id, s.count) for s in r.subjects} == set(subjects.items())
    assert {s.label for s in r.subjects} == {v[0] for v in SUBJECTS.values()}
    cams = Counter((gw, cam) for gw, cam, *_ in PLAN)
    assert {(c.gateway_id, c.camera_id): c.count for c in r.cameras} == dict(cams)
    assert all(
        c.location == pytest.approx(CAMERAS[(c.gateway_id, c.camera_id)], abs=1e-4)
        for c in r.cameras
    )
    assert [c.count for c in r.cameras] == sorted((c.count for c in r.cameras), reverse=True)


def test_rejected_matches_are_left_out_unless_asked(stack: Any) -> None:
    c = stack.client("reviewer")
    e = stack.seeded.of("gw-1", 10)
    r = c.post(f"/events/{e.event_id}/verdict", {"verdict": "rejected", "note": "false alarm"})
    assert r.status == 303
    base = AnalyticsQuery(BASE_US, BASE_US + 4 * DAY_US, "day", OFFSET_US)
    a = analytics(stack)
    without = a.report(base).total
    with_rejected = a.report(dataclasses.replace(base, include_rejected=True)).total
    assert with_rejected == len(PLAN)
    assert without == len(PLAN) - len(rejected(stack))


def test_invalid_ranges_are_refused(stack: Any) -> None:
    a = analytics(stack)
    with pytest.raises(QueryError, match="start before"):
        a.report(AnalyticsQuery(BASE_US, BASE_US))
    with pytest.raises(QueryError, match="buckets"):
        a.report(AnalyticsQuery(BASE_US, BASE_US + 200 * DAY_US, "hour"))
    assert len(bucket_starts(AnalyticsQuery(BASE_US + 1, BASE_US + HOUR_US + 1, "hour"))) == 2


def test_analytics_page_renders_the_same_figures(stack: Any) -> None:
    c = stack.client("viewer")
    page = c.get("/analytics?from=2025-06-15&to=2025-06-18&granularity=day&rejected=1")
    assert page.status == 200
    assert f"区间内比中 {len(PLAN)} 次" in page.text
    assert 'id="chart-data"' in page.text and 'id="map-data"' in page.text
    assert re.search(r'class="tile heat-5"', page.text)  # the busiest camera is hottest
    bad = c.get("/analytics?from=2025-06-15&to=2025-01-01")
    assert bad.status == 400
