"""High-incidence analysis: matches per camera over time, repeat plates and subjects,
cameras by location. Figures come from SQL aggregation (edge/store/analytics.py); the
page draws them with its own script (no external library)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.store.analytics import AnalyticsQuery, AnalyticsReport, CameraCount, Granularity
from edge.store.web.app import Params, Route, RouteSpec, bind
from edge.store.web.html import Html, el, json_data
from edge.store.web.http import Response, html_response
from edge.store.web.layout import Ctx, checkbox, field, link_with, page, select, table
from edge.store.web.pages_locations import locations_section
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


def _map_points(cams: tuple[CameraCount, ...], top: int) -> list[dict[str, object]]:
    return [
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


def _tile(ctx: Ctx, c: CameraCount, top: int) -> Html:
    place = f"{c.location[0]:.4f}, {c.location[1]:.4f}" if c.location else ctx.t("an.noloc")
    return el(
        "li",
        {"class": f"tile heat-{heat_level(c.count, top)}"},
        el(
            "a",
            {"href": link_with("/search", {"gateway": c.gateway_id, "camera": c.camera_id})},
            el("strong", {}, f"{c.gateway_id}/{c.camera_id}"),
            el("span", {"class": "count"}, c.count),
            el("small", {}, place),
        ),
    )


def _cameras(ctx: Ctx, cams: tuple[CameraCount, ...]) -> Html:
    top = max((c.count for c in cams), default=0)
    tiles = [_tile(ctx, c, top) for c in cams]
    return el(
        "div",
        {"class": "two"},
        el(
            "section",
            {"class": "card", "aria-labelledby": "map-h"},
            el("h2", {"id": "map-h"}, ctx.t("an.map")),
            el("div", {"id": "map", "class": "map", "role": "img", "aria-label": ctx.t("an.map")}),
            json_data("map-data", _map_points(cams, top)),
        ),
        el(
            "section",
            {"class": "card", "aria-labelledby": "grid-h"},
            el("h2", {"id": "grid-h"}, ctx.t("an.grid")),
            el("ul", {"class": "grid"}, tiles) if tiles else el("p", {}, ctx.t("an.none")),
        ),
    )


def _date_field(ctx: Ctx, label: str, name: str, us: int) -> Html:
    attrs = {"type": "date", "name": name, "id": f"a-{name}", "value": ctx.local_input(us, False)}
    return field(label, el("input", attrs))


def _form(ctx: Ctx, since: int, until: int, gran: str) -> Html:
    grans = [("hour", ctx.t("an.hour")), ("day", ctx.t("an.day"))]
    return el(
        "form",
        {"method": "get", "action": "/analytics", "class": "filters"},
        _date_field(ctx, ctx.t("an.from"), "from", since),
        _date_field(ctx, ctx.t("an.to"), "to", until - DAY_US),
        field(ctx.t("an.granularity"), select("granularity", grans, gran, id="a-gran")),
        checkbox("rejected", ctx.t("an.rejected"), ctx.req.arg("rejected") == "1"),
        el(
            "div",
            {"class": "actions"},
            el("button", {"type": "submit", "class": "primary"}, ctx.t("an.submit")),
        ),
    )


def _data_table(ctx: Ctx, chart: Chart) -> Html:
    c = ctx.t
    rows: list[list[Any]] = [
        [label, name, values[i]]
        for name, values in chart.series
        for i, label in enumerate(chart.labels)
        if values[i]
    ]
    return el(
        "details",
        {"class": "card"},
        el("summary", {}, c("an.table")),
        table([c("an.bucket"), c("col.place"), c("an.count")], rows, c("an.table")),
    )


def _repeat_section(ctx: Ctx, title: str, headers: list[str], rows: list[list[Any]]) -> Html:
    return el(
        "section",
        {"class": "card"},
        el("h2", {}, title),
        table(headers, rows, title) if rows else el("p", {}, ctx.t("an.none")),
    )


def _plates(ctx: Ctx, r: AnalyticsReport) -> Html:
    c = ctx.t
    rows: list[list[Any]] = [
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
    headers = [c("col.plate"), c("an.count"), c("an.cameras_n"), c("an.first"), c("an.last")]
    return _repeat_section(ctx, c("an.plates"), headers, rows)


def _subjects(ctx: Ctx, r: AnalyticsReport) -> Html:
    c = ctx.t
    rows: list[list[Any]] = [
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
    headers = [c("col.subject"), c("wl.id"), c("an.count"), c("an.cameras_n"), c("an.last")]
    return _repeat_section(ctx, c("an.subjects"), headers, rows)


def _tables(ctx: Ctx, r: AnalyticsReport, chart: Chart) -> list[Html]:
    return [
        _data_table(ctx, chart),
        el("div", {"class": "two"}, _plates(ctx, r), _subjects(ctx, r)),
    ]


def _chart_section(ctx: Ctx, chart: Chart) -> Html:
    return el(
        "section",
        {"class": "card", "aria-labelledby": "chart-h"},
        el("h2", {"id": "chart-h"}, ctx.t("an.chart")),
        el(
            "div",
            {"id": "chart", "class": "chart", "role": "img", "aria-label": ctx.t("an.chart")},
        ),
        json_data("chart-data", chart.json()),
    )


def _analytics(d: Deps, ctx: Ctx, _: Params) -> Response:
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
    platform = d.services.platform
    places = platform.locations if platform is not None else ()
    body = [
        _form(ctx, since, until, gran),
        el("p", {"class": "total"}, ctx.t("an.total", n=report.total)),
        locations_section(ctx, d.services.analytics.location_report(q, places)) if places else None,
        _chart_section(ctx, chart),
        _cameras(ctx, report.cameras),
        *_tables(ctx, report, chart),
    ]
    return html_response(page(ctx, ctx.t("an.title"), body, "/analytics"))


ROUTES = (RouteSpec("GET", "/analytics", _analytics, "analytics"),)


def routes(d: Deps) -> list[Route]:
    return bind(d, ROUTES)
