"""Administration pages: watchlist (faces and plates), gateways, audit log."""

from __future__ import annotations

import json
from typing import Any

from edge.errors import WatchlistError
from edge.store.repository import AuditEntry, GatewayInfo, Subject
from edge.store.web.app import Params, Route, RouteSpec, bind
from edge.store.web.html import Html, el
from edge.store.web.http import Response, field_value, html_response, redirect
from edge.store.web.layout import Ctx, badge, checkbox, field, page, post_form, table
from edge.store.web.services import Deps

AUDIT_PAGE = 100
NOTICES = ("wl.added", "wl.removed")


def _subject_rows(ctx: Ctx, subjects: list[Subject]) -> list[list[Any]]:
    rows = []
    for s in subjects:
        remove = post_form(
            ctx,
            "/watchlist/remove",
            el("input", {"type": "hidden", "name": "subject_id", "value": s.subject_id}),
            el(
                "button",
                {
                    "type": "submit",
                    "class": "danger small",
                    "aria-label": f"{ctx.t('wl.remove')} {s.label}",
                },
                ctx.t("wl.remove"),
            ),
            data_confirm=ctx.t("wl.remove.confirm"),
        )
        rows.append(
            [
                el("code", {}, s.subject_id),
                s.label,
                el("span", {"class": "plate"}, ", ".join(s.plates) or "—"),
                len(s.templates),
                ctx.time(s.created_at_us or None),
                remove,
            ]
        )
    return rows


def _subject_fields(ctx: Ctx, prefix: str) -> list[Html]:
    return [
        field(
            ctx.t("wl.subject_opt"),
            el("input", {"name": "subject_id", "id": f"{prefix}-sid", "maxlength": "64"}),
        ),
        field(
            ctx.t("wl.label"),
            el("input", {"name": "label", "id": f"{prefix}-label", "maxlength": "200"}),
        ),
    ]


def _plate_form(ctx: Ctx) -> Html:
    return el(
        "section",
        {"class": "card", "aria-labelledby": "addp-h"},
        el("h2", {"id": "addp-h"}, ctx.t("wl.add_plate")),
        post_form(
            ctx,
            "/watchlist/plate",
            *_subject_fields(ctx, "p"),
            field(
                ctx.t("wl.plate"),
                el(
                    "input",
                    {"name": "plate", "id": "p-plate", "required": True, "placeholder": "粤B12345"},
                ),
            ),
            el("button", {"type": "submit", "class": "primary"}, ctx.t("wl.add")),
        ),
    )


def _face_form(ctx: Ctx) -> Html:
    photos = el(
        "input",
        {
            "type": "file",
            "name": "photos",
            "id": "f-photos",
            "accept": "image/jpeg,image/png",
            "multiple": True,
            "required": True,
        },
    )
    return el(
        "section",
        {"class": "card", "aria-labelledby": "addf-h"},
        el("h2", {"id": "addf-h"}, ctx.t("wl.add_face")),
        post_form(
            ctx,
            "/watchlist/face",
            *_subject_fields(ctx, "f"),
            field(ctx.t("wl.photos"), photos),
            checkbox("largest", ctx.t("wl.largest")),
            el("button", {"type": "submit", "class": "primary"}, ctx.t("wl.add")),
            enctype="multipart/form-data",
        ),
    )


def _watchlist_forms(ctx: Ctx) -> Html:
    return el("div", {"class": "two"}, _plate_form(ctx), _face_form(ctx))


def _health(ctx: Ctx, g: GatewayInfo) -> tuple[Html, Html]:
    try:
        h: dict[str, Any] = json.loads(g.health_json or "{}")
    except ValueError:
        h = {}
    cams = [
        el(
            "li",
            {},
            badge(ctx.t("gw.up" if c.get("up") else "gw.down"), "ok" if c.get("up") else "bad"),
            " ",
            str(c.get("camera_id", "?")),
            f" · {float(c.get('fps', 0)):.1f} fps",
            f" · {c.get('last_error')}" if c.get("last_error") else None,
        )
        for c in h.get("cameras", [])
    ]
    summary = el(
        "span",
        {},
        ctx.t("gw.queue", q=h.get("queue_depth", "—"), o=h.get("outbox_events", "—")),
        el("br", {}),
        el("small", {}, h.get("software_version", ""), " ", ", ".join(h.get("model_ids", []))),
    )
    return el("ul", {"class": "plain"}, cams) if cams else el(
        "span", {"class": "muted"}, "—"
    ), summary


def _gateway_rows(ctx: Ctx, gateways: list[GatewayInfo]) -> list[list[Any]]:
    rows = []
    for g in gateways:
        cams, health = _health(ctx, g)
        problems = (
            el(
                "details",
                {},
                el("summary", {}, str(len(g.problems))),
                el("ul", {}, [el("li", {}, p) for p in g.problems[-20:]]),
            )
            if g.problems
            else "0"
        )
        name = [
            el("strong", {}, g.gateway_id),
            " ",
            badge(ctx.t("gw.revoked"), "bad") if g.revoked else None,
        ]
        rows.append(
            [
                name,
                ctx.time(g.last_heartbeat_us) if g.last_heartbeat_us else ctx.t("gw.never"),
                ctx.time(g.last_seen_us),
                cams,
                health,
                el(
                    "span",
                    {},
                    f"#{g.head.last_sequence} ",
                    el("code", {}, g.head.last_hash[:16] + "…"),
                ),
                problems,
            ]
        )
    return rows


def _watchlist(d: Deps, ctx: Ctx, _: Params) -> Response:
    assert ctx.principal is not None
    subjects, version = d.services.watchlist.list_subjects(ctx.principal)  # audited
    keys = ("wl.id", "wl.label", "wl.plates", "wl.faces", "wl.created")
    headers = [*(ctx.t(k) for k in keys), ""]
    listing = (
        table(headers, _subject_rows(ctx, subjects), ctx.t("wl.title"))
        if subjects
        else el("p", {}, ctx.t("wl.empty"))
    )
    msg = ctx.req.arg("msg")
    body = [el("p", {}, ctx.t("wl.version", v=version)), _watchlist_forms(ctx), listing]
    return html_response(
        page(ctx, ctx.t("wl.title"), body, "/watchlist", ctx.t(msg) if msg in NOTICES else None)
    )


def _add_plate(d: Deps, ctx: Ctx, _: Params) -> Response:
    assert ctx.principal is not None
    form = ctx.req.form()
    d.services.watchlist.add_plate(
        ctx.principal,
        field_value(form, "subject_id").strip() or None,
        field_value(form, "label").strip(),
        field_value(form, "plate"),
    )
    return redirect("/watchlist?msg=wl.added")


def _add_face(d: Deps, ctx: Ctx, _: Params) -> Response:
    assert ctx.principal is not None
    fields, files = ctx.req.multipart()
    photos = [u.data for u in files.get("photos", []) if u.data]
    if not photos:
        raise WatchlistError(ctx.t("face.missing"))
    d.services.watchlist.add_face(
        ctx.principal,
        field_value(fields, "subject_id").strip() or None,
        field_value(fields, "label").strip(),
        photos,
        field_value(fields, "largest") == "1",
    )
    return redirect("/watchlist?msg=wl.added")


def _remove(d: Deps, ctx: Ctx, _: Params) -> Response:
    assert ctx.principal is not None
    subject_id = field_value(ctx.req.form(), "subject_id")
    if not subject_id:
        raise WatchlistError("no subject id given")
    d.services.watchlist.remove(ctx.principal, subject_id)
    return redirect("/watchlist?msg=wl.removed")


def _gateways(d: Deps, ctx: Ctx, _: Params) -> Response:
    gws = d.services.admin.list_gateways()
    headers = [
        ctx.t(k)
        for k in (
            "gw.id",
            "gw.heartbeat",
            "gw.seen",
            "gw.cameras",
            "gw.health",
            "gw.chain",
            "gw.problems",
        )
    ]
    body = (
        table(headers, _gateway_rows(ctx, gws), ctx.t("gw.title"))
        if gws
        else el("p", {}, ctx.t("gw.none"))
    )
    return html_response(page(ctx, ctx.t("gw.title"), body, "/gateways"))


def _audit_window(ctx: Ctx, head: int) -> tuple[int, int]:
    """(start, before): the page shows entries start+1 .. before-1, newest first."""
    try:
        before = min(int(ctx.req.arg("before") or head + 1), head + 1)
    except ValueError:
        before = head + 1
    return max(0, before - 1 - AUDIT_PAGE), before


def _audit_table(ctx: Ctx, entries: list[AuditEntry]) -> Html:
    rows = [
        [
            e.seq,
            ctx.time(e.at_us),
            e.actor,
            e.action,
            el("code", {}, e.detail_json[:400]),
            el("code", {"title": e.entry_hash}, e.entry_hash[:12] + "…"),
        ]
        for e in reversed(entries)
    ]
    headers = [
        ctx.t("audit.seq"),
        ctx.t("event.at"),
        ctx.t("audit.actor"),
        ctx.t("audit.action"),
        ctx.t("audit.detail"),
        "hash",
    ]
    return table(headers, rows, ctx.t("audit.title"))


def _audit_pager(ctx: Ctx, start: int, before: int, head: int) -> Html:
    return el(
        "nav",
        {"class": "pager"},
        el("a", {"class": "button", "href": f"/audit?before={start + 1}"}, ctx.t("audit.older"))
        if start > 0
        else None,
        el("a", {"class": "button", "href": "/audit"}, ctx.t("audit.newer"))
        if before <= head
        else None,
    )


def _audit(d: Deps, ctx: Ctx, _: Params) -> Response:
    assert ctx.principal is not None
    head, _hash = d.repo.audit.head()
    start, before = _audit_window(ctx, head)
    entries = d.repo.audit.entries(after_seq=start, limit=before - 1 - start)
    d.services.auditor.record(
        ctx.principal, "admin.audit_read", {"from_seq": start + 1, "to_seq": before - 1}
    )
    result = None
    if ctx.req.arg("verified"):
        result = el("p", {"class": "notice", "role": "status"}, ctx.req.arg("verified")[:300])
    verify = post_form(
        ctx, "/audit/verify", el("button", {"type": "submit"}, ctx.t("audit.verify"))
    )
    body = [verify, result, _audit_table(ctx, entries), _audit_pager(ctx, start, before, head)]
    return html_response(page(ctx, ctx.t("audit.title"), body, "/audit"))


def _audit_verify(d: Deps, ctx: Ctx, _: Params) -> Response:
    assert ctx.principal is not None
    result = d.services.admin.audit_verify(ctx.principal)  # audited
    text = (
        ctx.t("audit.ok", n=result.entries) if result.ok else ctx.t("audit.bad", why=result.problem)
    )
    body = [
        el("p", {"class": "notice", "role": "status", "id": "verify-result"}, text),
        el("a", {"href": "/audit"}, ctx.t("audit.title")),
    ]
    return html_response(page(ctx, ctx.t("audit.title"), body, "/audit"))


ROUTES = (
    RouteSpec("GET", "/watchlist", _watchlist, "watchlist"),
    RouteSpec("POST", "/watchlist/plate", _add_plate, "watchlist_add_plate"),
    RouteSpec("POST", "/watchlist/face", _add_face, "watchlist_add_face"),
    RouteSpec("POST", "/watchlist/remove", _remove, "watchlist_remove"),
    RouteSpec("GET", "/gateways", _gateways, "gateways"),
    RouteSpec("GET", "/audit", _audit, "audit"),
    RouteSpec("POST", "/audit/verify", _audit_verify, "audit_verify"),
)


def routes(d: Deps) -> list[Route]:
    return bind(d, ROUTES)
