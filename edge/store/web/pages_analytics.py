"""High-incidence analysis: matches per camera over time, repeat plates and subjects,
cameras by location. Figures come from SQL aggregation (edge/store/analytics.py); the
page draws them with its own script (no external library)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.store.analytics import AnalyticsQuery, AnalyticsReport, CameraCount, Granularity
from edge.store.web.app import Route, route
from edge.store.web.html import Html, el, json_data
from edge.store.web.http import Response, html_response
from edge.store.web.layout import Ctx, field, link_with, page, select, table
from edge.store.web.services import Deps

DAY_US = 86_400_000_000
HEAT_LEVELS = 5


def _range(ctx: Ctx) -> tuple[int, int, Granularity]:
    today = datetime.now(ctx.tz).date()
    since = ctx.parse_time(ctx.req.arg("from"), ctx.t("an.from"))
    until = ctx.parse_time(ctx.req.arg("to"), ctx.t("an.to"))
    if until is None:
        until = ctx.parse_time(today.isoformat(), ctx.t("an.to"))
    assert until is not None
    until += DAY_US  # the end date is inclusive
    if since is None:
        since = until - 7 * DAY_US
    wanted = ctx.req.arg("granularity") or ("hour" if until - since <= 2 * DAY_US else "day")
    gran: Granularity = "hour" if wanted == "hour" else "day"
    return since, until, gran


def heat_level(count: int, top: int) -> int:
    if count <= 0 or top <= 0:
        return 0
    return max(1, min(HEAT_LEVELS, -(-count * HEAT_LEVELS // top)))


def _label(ctx: Ctx, us: int, gran: str) -> str:
    fmt = "%m-%d %H:00" if gran == "hour" else "%Y-%m-%d"
    return datetime.fromtimestamp(us / 1e6, ctx.tz).strftime(fmt)


@dataclass(frozen=True, slots=True)
class Chart:
    labels: list[str]
    series: list[tuple[str, list[int]]]  # camera name, count per label

    def json(self) -> dict[str, object]:
        return {
            "labels": self.labels,
            "series": [{"name": n, "values": v} for n, v in self.series],
        }


def chart_of(ctx: Ctx, r: AnalyticsReport) -> Chart:
    index = {b: i for i, b in enumerate(r.buckets)}
    per: dict[str, list[int]] = defaultdict(lambda: [0] * len(r.buckets))
    for p in r.series:
        if p.bucket_start_us in index:
            per[f"{p.gateway_id}/{p.camera_id}"][index[p.bucket_start_us]] += p.count
    labels = [_label(ctx, b, r.query.granularity) for b in r.buckets]
    return Chart(labels, sorted(per.items()))


def _cameras(ctx: Ctx, cams: tuple[CameraCount, ...]) -> Html:
    top = max((c.count for c in cams), default=0)
    points = [
        {
            "name": f"{c.gateway_id}/{c.camera_id}",
            "count": c.count,
            "lat": c.location[0],
            "lon": c.location[1],
            "level": heat_level(c.count, top),
        }
        for c in cams
        if c.location
    ]
    tiles = [
        el(
            "li",
            {"class": f"tile heat-{heat_level(c.count, top)}"},
            el(
                "a",
                {"href": link_with("/search", {"gateway": c.gateway_id, "camera": c.camera_id})},
                el("strong", {}, f"{c.gateway_id}/{c.camera_id}"),
                el("span", {"class": "count"}, c.count),
                el(
                    "small",
                    {},
                    f"{c.location[0]:.4f}, {c.location[1]:.4f}"
                    if c.location
                    else ctx.t("an.noloc"),
                ),
            ),
        )
        for c in cams
    ]
    return el(
        "div",
        {"class": "two"},
        el(
            "section",
            {"class": "card", "aria-labelledby": "map-h"},
            el("h2", {"id": "map-h"}, ctx.t("an.map")),
            el("div", {"id": "map", "class": "map", "role": "img", "aria-label": ctx.t("an.map")}),
            json_data("map-data", points),
        ),
        el(
            "section",
            {"class": "card", "aria-labelledby": "grid-h"},
            el("h2", {"id": "grid-h"}, ctx.t("an.grid")),
            el("ul", {"class": "grid"}, tiles) if tiles else el("p", {}, ctx.t("an.none")),
        ),
    )


def _form(ctx: Ctx, since: int, until: int, gran: str) -> Html:
    return el(
        "form",
        {"method": "get", "action": "/analytics", "class": "filters"},
        field(
            ctx.t("an.from"),
            el(
                "input",
                {
                    "type": "date",
                    "name": "from",
                    "id": "a-from",
                    "value": ctx.local_input(since, False),
                },
            ),
        ),
        field(
            ctx.t("an.to"),
            el(
                "input",
                {
                    "type": "date",
                    "name": "to",
                    "id": "a-to",
                    "value": ctx.local_input(until - DAY_US, False),
                },
            ),
        ),
        field(
            ctx.t("an.granularity"),
            select(
                "granularity",
                [("hour", ctx.t("an.hour")), ("day", ctx.t("an.day"))],
                gran,
                id="a-gran",
            ),
        ),
        el(
            "div",
            {"class": "field check"},
            el(
                "label",
                {},
                el(
                    "input",
                    {
                        "type": "checkbox",
                        "name": "rejected",
                        "value": "1",
                        "checked": ctx.req.arg("rejected") == "1",
                    },
                ),
                ctx.t("an.rejected"),
            ),
        ),
        el(
            "div",
            {"class": "actions"},
            el("button", {"type": "submit", "class": "primary"}, ctx.t("an.submit")),
        ),
    )


def _tables(ctx: Ctx, r: AnalyticsReport, chart: Chart) -> list[Html]:
    data_rows: list[list[Any]] = [
        [label, name, values[i]]
        for name, values in chart.series
        for i, label in enumerate(chart.labels)
        if values[i]
    ]
    plate_rows = [
        [
            el(
                "a",
                {"href": link_with("/search", {"plate": p.text, "exact": "1"})},
                el("span", {"class": "plate"}, p.text),
            ),
            p.count,
            p.cameras,
            ctx.time(p.first_us),
            ctx.time(p.last_us),
        ]
        for p in r.plates
    ]
    subject_rows = [
        [
            el(
                "a",
                {"href": link_with("/search", {"subject": s.subject_id})},
                s.label or s.subject_id,
            ),
            el("code", {}, s.subject_id),
            s.count,
            s.cameras,
            ctx.time(s.last_us),
        ]
        for s in r.subjects
    ]
    c = ctx.t
    return [
        el(
            "details",
            {"class": "card"},
            el("summary", {}, c("an.table")),
            table([c("an.bucket"), c("col.place"), c("an.count")], data_rows, c("an.table")),
        ),
        el(
            "div",
            {"class": "two"},
            el(
                "section",
                {"class": "card"},
                el("h2", {}, c("an.plates")),
                table(
                    [c("col.plate"), c("an.count"), c("an.cameras_n"), c("an.first"), c("an.last")],
                    plate_rows,
                    c("an.plates"),
                )
                if plate_rows
                else el("p", {}, c("an.none")),
            ),
            el(
                "section",
                {"class": "card"},
                el("h2", {}, c("an.subjects")),
                table(
                    [c("col.subject"), c("wl.id"), c("an.count"), c("an.cameras_n"), c("an.last")],
                    subject_rows,
                    c("an.subjects"),
                )
                if subject_rows
                else el("p", {}, c("an.none")),
            ),
        ),
    ]


def routes(d: Deps) -> list[Route]:
    def analytics(ctx: Ctx, _: re.Match[str]) -> Response:
        assert ctx.principal is not None
        since, until, gran = _range(ctx)
        q = AnalyticsQuery(
            since,
            until,
            gran,
            ctx.config.utc_offset_minutes * 60_000_000,
            include_rejected=ctx.req.arg("rejected") == "1",
        )
        report = d.services.analytics.report(q)
        d.services.auditor.record(
            ctx.principal,
            "analytics.view",
            {
                "since_us": since,
                "until_us": until,
                "granularity": gran,
                "include_rejected": q.include_rejected,
                "total": report.total,
            },
        )
        chart = chart_of(ctx, report)
        body = [
            _form(ctx, since, until, gran),
            el("p", {"class": "total"}, ctx.t("an.total", n=report.total)),
            el(
                "section",
                {"class": "card", "aria-labelledby": "chart-h"},
                el("h2", {"id": "chart-h"}, ctx.t("an.chart")),
                el(
                    "div",
                    {
                        "id": "chart",
                        "class": "chart",
                        "role": "img",
                        "aria-label": ctx.t("an.chart"),
                    },
                ),
                json_data("chart-data", chart.json()),
            ),
            _cameras(ctx, report.cameras),
            *_tables(ctx, report, chart),
        ]
        return html_response(page(ctx, ctx.t("an.title"), body, "/analytics"))

    return [route("GET", "/analytics", analytics, "analytics")]
