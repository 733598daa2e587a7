"""Key locations on the analytics page (重要点位、高发问题分析): per location the matches
in the range and the trend against the period before, the heat by local hour of day,
and the subjects seen there repeatedly (edge/store/analytics_locations.py)."""

from __future__ import annotations

from typing import Any

from edge.store.analytics_locations import LocationCount, LocationReport
from edge.store.web.html import Html, el
from edge.store.web.layout import Ctx, link_with, table

T: dict[str, tuple[str, str]] = {
    "title": ("重要点位", "Key locations"),
    "col.place": ("点位", "Location"),
    "col.count": ("比中数", "Matches"),
    "col.previous": ("上一周期", "Previous period"),
    "col.trend": ("趋势", "Trend"),
    "col.cameras": ("摄像头", "Cameras"),
    "new": ("新出现", "new"),
    "heat": ("按小时热度（本地时间）", "Heat by hour of day (local time)"),
    "repeats": ("点位内反复出现的对象", "Subjects seen repeatedly per location"),
    "col.subject": ("布控对象", "Subject"),
    "col.times": ("次数", "Times"),
    "col.last": ("最近", "Last seen"),
    "none": ("无", "none"),
}


LEVELS = 5  # the analytics page's heat classes heat-0 .. heat-5


def heat_level(count: int, top: int) -> int:
    if count <= 0 or top <= 0:
        return 0
    return max(1, min(LEVELS, -(-count * LEVELS // top)))


def t(ctx: Ctx, key: str) -> str:
    zh, en = T[key]
    return en if ctx.lang == "en" else zh


def _trend(ctx: Ctx, c: LocationCount) -> Html:
    change = c.change
    if change is None:
        return el("span", {"class": "trend up"}, t(ctx, "new") if c.count else "—")
    arrow = "↑" if change > 0 else "↓" if change < 0 else "→"
    kind = "up" if change > 0 else "down" if change < 0 else "flat"
    return el("span", {"class": f"trend {kind}"}, f"{arrow} {change * 100:+.0f}%")


def _counts(ctx: Ctx, r: LocationReport) -> Html:
    rows: list[list[Any]] = [
        [el("strong", {}, c.name), c.count, c.previous, _trend(ctx, c), c.cameras]
        for c in r.locations
    ]
    keys = ("col.place", "col.count", "col.previous", "col.trend", "col.cameras")
    return table([t(ctx, k) for k in keys], rows, t(ctx, "title"))


def _heat(ctx: Ctx, r: LocationReport) -> Html:
    top = max((n for counts in r.heat.values() for n in counts), default=0)
    head = el("tr", {}, el("th", {"scope": "col"}, t(ctx, "col.place")),
              [el("th", {"scope": "col"}, f"{h:02d}") for h in range(24)])  # fmt: skip
    rows = [
        el("tr", {}, el("th", {"scope": "row"}, c.name),
           [el("td", {"class": f"heat-cell heat-{heat_level(n, top)}", "title": f"{h:02d}:00 {n}"},
               n or "") for h, n in enumerate(r.heat.get(c.location_id, ()))])
        for c in r.locations
    ]  # fmt: skip
    wrap = {"class": "table-wrap", "tabindex": "0", "role": "region", "aria-label": t(ctx, "heat")}
    return el(
        "div", wrap,
        el("table", {"class": "heat"}, el("caption", {}, t(ctx, "heat")),
           el("thead", {}, head), el("tbody", {}, rows)),
    )  # fmt: skip


def _repeats(ctx: Ctx, r: LocationReport) -> Html:
    names = {c.location_id: c.name for c in r.locations}
    rows: list[list[Any]] = [
        [names.get(x.location_id, x.location_id),
         el("a", {"href": link_with("/search", {"subject": x.subject_id})},
            x.label or x.subject_id),
         x.count, x.cameras, ctx.time(x.last_us)]
        for x in r.repeats
    ]  # fmt: skip
    keys = ("col.place", "col.subject", "col.times", "col.cameras", "col.last")
    if not rows:
        return el("p", {}, t(ctx, "none"))
    return table([t(ctx, k) for k in keys], rows, t(ctx, "repeats"))


def locations_section(ctx: Ctx, r: LocationReport) -> Html:
    return el(
        "section",
        {"class": "card", "id": "locations", "aria-labelledby": "loc-h"},
        el("h2", {"id": "loc-h"}, t(ctx, "title")),
        _counts(ctx, r),
        _heat(ctx, r),
        el("h3", {}, t(ctx, "repeats")),
        _repeats(ctx, r),
    )
