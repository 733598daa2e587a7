"""Search by filters or by a face photo; result thumbnails."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from PIL import Image

from edge.errors import QueryError
from edge.store.repository import (
    INTEGRITY_STATES,
    VERDICT_FILTERS,
    EventQuery,
    StoredEvent,
    WatchlistRepository,
)
from edge.store.review_service import SearchHit, SearchResult
from edge.store.web.app import Params, Route, RouteSpec, bind
from edge.store.web.html import Html, el
from edge.store.web.http import Response, field_value, html_response, text_response
from edge.store.web.layout import (
    Ctx,
    checkbox,
    field,
    integrity_badge,
    link_with,
    page,
    post_form,
    select,
    table,
    verdict_badge,
)
from edge.store.web.services import Deps

PAGE_SIZE = 25
FACE_RESULTS = 100
THUMB_PX = 160
MAX_LABEL_MATCHES = 200
FILTERS = (
    "plate",
    "exact",
    "subject",
    "camera",
    "gateway",
    "since",
    "until",
    "verdict",
    "integrity",
)


def page_size(ctx: Ctx) -> int:
    try:
        return max(5, min(100, int(ctx.req.arg("n") or PAGE_SIZE)))
    except ValueError:
        return PAGE_SIZE


def subject_ids(text: str, watchlist: WatchlistRepository) -> tuple[str, ...]:
    """A subject id, or else every subject whose label contains the text."""
    if not text or watchlist.get_subject(text) is not None:
        return (text,) if text else ()
    wanted = text.casefold()
    found = [s.subject_id for s in watchlist.list_subjects() if wanted in s.label.casefold()]
    # nothing matches: search for the text as an id, which finds nothing, visibly
    return tuple(found[:MAX_LABEL_MATCHES]) or (text,)


def query_from(ctx: Ctx, watchlist: WatchlistRepository) -> EventQuery:
    a = ctx.req.arg
    return EventQuery(
        plate=a("plate") or None,
        subject_ids=subject_ids(a("subject"), watchlist),
        camera_id=a("camera") or None,
        gateway_id=a("gateway") or None,
        since_us=ctx.parse_time(a("since"), ctx.t("search.since")),
        until_us=ctx.parse_time(a("until"), ctx.t("search.until")),
        verdict=a("verdict") or None,
        integrity=a("integrity") or None,
        plate_exact=a("exact") == "1",
        limit=page_size(ctx),
        cursor=a("cursor") or None,
    )


def _form(ctx: Ctx, gateways: Sequence[str]) -> Html:
    a = ctx.req.arg
    any_ = ("", ctx.t("search.any"))
    verdicts = [any_] + [(v, ctx.t(f"verdict.{v}")) for v in VERDICT_FILTERS]
    states = [any_] + [(s, ctx.t(f"integrity.{s}")) for s in INTEGRITY_STATES]

    def inp(name: str, **kw: str) -> Html:
        return el("input", {"name": name, "id": f"f-{name}", "value": a(name), **kw})

    return el(
        "form",
        {"method": "get", "action": "/search", "class": "filters", "role": "search"},
        field(
            ctx.t("search.plate"), inp("plate", placeholder="粤B12345"), ctx.t("search.plate.help")
        ),
        checkbox("exact", ctx.t("search.exact"), a("exact") == "1"),
        field(ctx.t("search.subject"), inp("subject")),
        field(ctx.t("search.camera"), inp("camera")),
        field(ctx.t("search.gateway"), inp("gateway", list="gateway-ids")),
        el("datalist", {"id": "gateway-ids"}, [el("option", {"value": g}) for g in gateways]),
        field(ctx.t("search.since"), inp("since", type="datetime-local")),
        field(ctx.t("search.until"), inp("until", type="datetime-local")),
        field(ctx.t("search.verdict"), select("verdict", verdicts, a("verdict"), id="f-verdict")),
        field(
            ctx.t("search.integrity"), select("integrity", states, a("integrity"), id="f-integrity")
        ),
        el(
            "div",
            {"class": "actions"},
            el("button", {"type": "submit", "class": "primary"}, ctx.t("search.submit")),
            el("a", {"href": "/search", "class": "button"}, ctx.t("search.reset")),
        ),
    )


def _face_form(ctx: Ctx) -> Html:
    return el(
        "section",
        {"class": "card", "aria-labelledby": "face-h"},
        el("h2", {"id": "face-h"}, ctx.t("face.title")),
        post_form(
            ctx,
            "/search/face",
            field(
                ctx.t("face.photo"),
                el(
                    "input",
                    {
                        "type": "file",
                        "name": "photo",
                        "id": "f-photo",
                        "accept": "image/jpeg,image/png",
                        "required": True,
                    },
                ),
            ),
            field(
                ctx.t("face.min"),
                el(
                    "input",
                    {
                        "type": "number",
                        "name": "min_similarity",
                        "id": "f-min",
                        "min": "0",
                        "max": "1",
                        "step": "0.01",
                    },
                ),
            ),
            el("button", {"type": "submit", "class": "primary"}, ctx.t("face.submit")),
            enctype="multipart/form-data",
        ),
    )


def _score(e: StoredEvent) -> str:
    parts = []
    if e.best_similarity is not None:
        parts.append(f"{e.best_similarity:.3f}")
    if e.event.plates:
        parts.append(f"{max(p.confidence for p in e.event.plates):.2f}")
    return " / ".join(parts) or "—"


def _result_headers(ctx: Ctx, photo: bool) -> list[str]:
    keys = ["col.thumb", "col.time", "col.place", "col.kind", "col.subject", "col.plate"]
    keys += ["col.score", *(["col.photo_sim"] if photo else []), "col.verdict"]
    return [ctx.t(k) for k in (*keys, "col.integrity", "col.open")]


def _thumb_link(ctx: Ctx, href: str, plates: str) -> Html:
    return el(
        "a",  # a large tap target on tablets; keyboards use the "open" link
        {"href": href, "tabindex": "-1", "aria-hidden": "true"},
        el(
            "img",
            {
                "src": f"{href}/thumb",
                "alt": f"{ctx.t('col.thumb')} {plates}",
                "class": "thumb",
                "loading": "lazy",
                "width": "80",
                "height": "60",
            },
        ),
    )


def _result_row(ctx: Ctx, h: SearchHit, photo: bool) -> list[Any]:
    s, e = h.stored, h.stored.event
    href = f"/events/{e.event_id}"
    plates = ", ".join(s.plate_texts) or "—"
    row: list[Any] = [
        _thumb_link(ctx, href, plates),
        ctx.time(e.captured_at_us),
        f"{e.gateway_id} / {e.camera_id}",
        ctx.t(f"kind.{e.kind}"),
        el("span", {}, s.label or "—", el("br", {}), el("small", {}, ", ".join(s.subject_ids))),
        el("span", {"class": "plate"}, plates),
        _score(s),
    ]
    if photo:
        row.append(f"{h.photo_similarity:.3f}" if h.photo_similarity is not None else "—")
    return [
        *row,
        verdict_badge(ctx, s.verdict),
        integrity_badge(ctx, s.integrity),
        el("a", {"href": href}, ctx.t("open")),
    ]


def results_table(ctx: Ctx, hits: Sequence[SearchHit], photo: bool, caption: str) -> Html:
    if not hits:
        return el("p", {"class": "empty"}, ctx.t("search.none"))
    rows = [_result_row(ctx, h, photo) for h in hits]
    return table(_result_headers(ctx, photo), rows, caption, cards=True)


def _pager(ctx: Ctx, result: SearchResult) -> Html:
    params = {k: ctx.req.arg(k) for k in FILTERS}
    links = []
    if ctx.req.arg("cursor"):
        links.append(
            el(
                "a",
                {"href": link_with("/search", params), "class": "button"},
                ctx.t("search.first"),
            )
        )
    if result.next_cursor:
        nxt = link_with("/search", {**params, "cursor": result.next_cursor})
        links.append(el("a", {"href": nxt, "class": "button", "rel": "next"}, ctx.t("search.next")))
    return el("nav", {"class": "pager", "aria-label": ctx.t("search.results")}, links)


def _thumbnail(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        img.thumbnail((THUMB_PX, THUMB_PX))
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()


def _results_heading(ctx: Ctx, title: str, n: int, **attrs: str) -> Html:
    return el("h2", attrs, title, " ", el("small", {}, ctx.t("search.count", n=n)))


def _search(d: Deps, ctx: Ctx, _: Params) -> Response:
    assert ctx.principal is not None and ctx.session is not None
    gateways = [g.gateway_id for g in d.repo.gateways.list_gateways()]
    error, result = None, SearchResult((), None)
    try:
        result = d.services.review.search(
            ctx.principal, query_from(ctx, d.repo.watchlist), None, 0.0
        )
    except QueryError as e:
        error = str(e)
    d.sessions.remember(ctx.session, [h.stored.event.event_id for h in result.hits], d.clock())
    body = [
        _form(ctx, gateways),
        el("p", {"class": "error", "role": "alert"}, error) if error else None,
        _results_heading(ctx, ctx.t("search.results"), len(result.hits), id="results-h"),
        results_table(ctx, result.hits, False, ctx.t("search.results")),
        _pager(ctx, result),
        _face_form(ctx),
    ]
    return html_response(page(ctx, ctx.t("search.title"), body, "/search"))


def _min_similarity(text: str) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise QueryError(f"min similarity {text[:20]!r} is not a number") from None


def _face_search(d: Deps, ctx: Ctx, _: Params) -> Response:
    assert ctx.principal is not None and ctx.session is not None
    fields, files = ctx.req.multipart()
    photos = files.get("photo", [])
    if not photos or not photos[0].data:
        raise QueryError(ctx.t("face.missing"))
    min_sim = _min_similarity(field_value(fields, "min_similarity").strip())
    query = EventQuery(limit=FACE_RESULTS)
    result = d.services.review.search(ctx.principal, query, photos[0].data, min_sim)
    d.sessions.remember(ctx.session, [h.stored.event.event_id for h in result.hits], d.clock())
    body = [
        _results_heading(ctx, ctx.t("face.results"), len(result.hits)),
        results_table(ctx, result.hits, True, ctx.t("face.results")),
        _face_form(ctx),
    ]
    return html_response(page(ctx, ctx.t("face.results"), body, "/search"))


def _thumb(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.session is not None
    event_id = m["id"]
    if not d.sessions.has_seen(ctx.session, event_id):  # only via an audited search of it
        return text_response("open the event to see its images", 403)
    blobs = d.repo.events.event_blobs(event_id)
    order = {"face_crop": 0, "plate_crop": 1, "scene": 2}
    chosen = sorted(blobs, key=lambda b: (order.get(b.role, 3), b.name))
    if not chosen:
        return text_response("no image", 404)
    data = _thumbnail(d.services.blobs.get(chosen[0].sha256))
    return Response(200, data, "image/jpeg", [("Cache-Control", "private, no-store")])


ROUTES = (
    RouteSpec("GET", "/search", _search, "search"),
    RouteSpec("POST", "/search/face", _face_search, "search"),
    RouteSpec("GET", "/events/{id}/thumb", _thumb, "search"),
)


def routes(d: Deps) -> list[Route]:
    return bind(d, ROUTES)
