"""One event: evidence view with box overlay, verdicts, export, dispatch, audit trail."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.errors import EvidenceError, QueryError
from edge.evidence.model import FaceHit, PlateHit
from edge.evidence.signing import verify_event
from edge.store.dispatch import zip_package
from edge.store.repository import StoredEvent
from edge.store.review_service import EventView
from edge.store.web.app import Params, Route, RouteSpec, bind
from edge.store.web.html import Html, el, json_data
from edge.store.web.http import Response, field_value, html_response, redirect
from edge.store.web.layout import (
    Ctx,
    badge,
    field,
    integrity_badge,
    page,
    post_form,
    table,
    verdict_badge,
)
from edge.store.web.pages_dispatch import dispatch_section
from edge.store.web.pages_platform import platform_section
from edge.store.web.services import Deps

NOTICES = ("event.saved", "dispatch.created")
MAX_AUDIT_ROWS = 200


def _signature_ok(d: Deps, stored: StoredEvent) -> bool:
    info = d.repo.gateways.get_gateway(stored.event.gateway_id)
    if info is None:
        return False
    try:
        verify_event(
            Ed25519PublicKey.from_public_bytes(info.public_key), stored.event, stored.signature
        )
    except (EvidenceError, ValueError):
        return False
    return True


def _boxes(stored: StoredEvent) -> list[dict[str, Any]]:
    e = stored.event
    faces = [
        {"kind": "face", "box": list(f.box), "label": f"{f.subject_id} {f.similarity:.2f}"}
        for f in e.faces
    ]
    plates = [{"kind": "plate", "box": list(p.box), "label": p.text} for p in e.plates]
    return faces + plates


def _dl(items: list[tuple[str, object]]) -> Html:
    return el("dl", {"class": "facts"}, [[el("dt", {}, k), el("dd", {}, v)] for k, v in items])  # type: ignore[arg-type]


def _face_crop(ctx: Ctx, href: str, f: FaceHit) -> Html:
    facts: list[tuple[str, object]] = [
        (ctx.t("col.subject"), f.subject_id),
        (ctx.t("event.similarity"), f"{f.similarity:.4f}"),
        (ctx.t("event.quality"), f"{f.quality:.2f}"),
    ]
    return el(
        "figure",
        {"class": "crop"},
        el("img", {"src": href + f.crop, "alt": f"{ctx.t('event.face')} {f.subject_id}"})
        if f.crop
        else None,
        el("figcaption", {}, _dl(facts)),
    )


def _plate_crop(ctx: Ctx, href: str, p: PlateHit) -> Html:
    facts: list[tuple[str, object]] = [
        (ctx.t("event.read"), el("span", {"class": "plate"}, p.text)),
        (ctx.t("event.listed"), el("span", {"class": "plate"}, p.listed_text)),
        (ctx.t("event.match"), ctx.t(f"event.match.{p.kind}")),
        (ctx.t("event.color"), p.color or "—"),
        (ctx.t("event.confidence"), f"{p.confidence:.3f}"),
    ]
    return el(
        "figure",
        {"class": "crop"},
        el("img", {"src": href + p.crop, "alt": f"{ctx.t('col.plate')} {p.text}"})
        if p.crop
        else None,
        el("figcaption", {}, _dl(facts)),
    )


def _scene(ctx: Ctx, stored: StoredEvent) -> Html:
    e = stored.event
    href = f"/events/{e.event_id}/blob/"
    scene = next((b for b in e.blobs if b.role == "scene"), None)
    crops = [_face_crop(ctx, href, f) for f in e.faces] + [
        _plate_crop(ctx, href, p) for p in e.plates
    ]
    return el(
        "section",
        {"class": "evidence", "aria-labelledby": "scene-h"},
        el("h2", {"id": "scene-h"}, ctx.t("event.scene")),
        el(
            "figure",
            {"class": "scene", "data-boxes": "boxes"},
            el("img", {"src": href + scene.name, "alt": ctx.t("event.scene"), "id": "scene-img"})
            if scene
            else None,
            json_data("boxes", _boxes(stored)),
        ),
        el(
            "button",
            {"type": "button", "id": "toggle-boxes", "aria-pressed": "true"},
            ctx.t("event.boxes"),
        ),
        el("h2", {}, ctx.t("event.crops")),
        el("div", {"class": "crops"}, crops),
    )


def _integrity(ctx: Ctx, view: EventView, sig_ok: bool, d: Deps) -> Html:
    s, e = view.stored, view.stored.event
    blobs = d.repo.events.event_blobs(e.event_id)
    return el(
        "section",
        {"class": "card", "aria-labelledby": "int-h"},
        el("h2", {"id": "int-h"}, ctx.t("event.integrity")),
        _dl(
            [
                (
                    ctx.t("col.integrity"),
                    [integrity_badge(ctx, s.integrity), " ", s.integrity_note],
                ),
                (
                    ctx.t("event.sig_now"),
                    badge(
                        ctx.t("event.sig_ok" if sig_ok else "event.sig_bad"),
                        "ok" if sig_ok else "bad",
                    ),
                ),
                (ctx.t("event.sequence"), e.sequence),
                (ctx.t("event.hash"), el("code", {}, s.event_hash)),
                (ctx.t("event.prev"), el("code", {}, e.prev_hash)),
                (ctx.t("event.key"), el("code", {}, view.gateway_key_fingerprint)),
            ]
        ),
        el("h3", {}, ctx.t("event.blobs")),
        el(
            "ul",
            {"class": "hashes"},
            [el("li", {}, b.name, ": ", el("code", {}, b.sha256)) for b in blobs],
        ),
    )


def _verdict_history(ctx: Ctx, view: EventView) -> Html | None:
    if not view.verdicts:
        return None
    return table(
        [ctx.t("col.verdict"), ctx.t("event.note"), ctx.t("event.by"), ctx.t("event.at")],
        [
            [verdict_badge(ctx, v.verdict), v.note, v.reviewer, ctx.time(v.at_us)]
            for v in view.verdicts
        ],
        ctx.t("event.history"),
    )


def _verdict_form(ctx: Ctx, event_id: str) -> Html | None:
    if not ctx.can("verdict"):
        return None
    note = el(
        "textarea",
        {"name": "note", "id": "note", "rows": "3", "maxlength": "2000", "required": True},
    )
    buttons = el(
        "div",
        {"class": "actions"},
        el(
            "button",
            {"type": "submit", "name": "verdict", "value": "confirmed", "class": "primary"},
            ctx.t("event.confirm"),
        ),
        el(
            "button",
            {"type": "submit", "name": "verdict", "value": "rejected", "class": "danger"},
            ctx.t("event.reject"),
        ),
    )
    return post_form(
        ctx,
        f"/events/{event_id}/verdict",
        field(ctx.t("event.note"), note),
        buttons,
        class_="verdict-form",
    )


def _verdict(ctx: Ctx, view: EventView) -> Html:
    s = view.stored
    return el(
        "section",
        {"class": "card", "aria-labelledby": "verdict-h"},
        el("h2", {"id": "verdict-h"}, ctx.t("event.verdict")),
        el(
            "p",
            {},
            ctx.t("event.current"),
            ": ",
            verdict_badge(ctx, s.verdict),
            " ",
            el("span", {"class": "muted"}, s.verdict_by or ""),
        ),
        _verdict_form(ctx, s.event.event_id),
        _verdict_history(ctx, view),
    )


def _audit_trail(ctx: Ctx, d: Deps, event_id: str) -> Html | None:
    if not ctx.can("event_audit"):
        return None
    entries = d.services.auditor.entries_about({event_id})[-MAX_AUDIT_ROWS:]
    rows = [
        [
            a["seq"],
            ctx.time(a["at_us"]),
            a["actor"],
            a["action"],
            el("code", {}, json.dumps(a["detail"], ensure_ascii=False)[:300]),
        ]
        for a in reversed(entries)
    ]
    headers = [
        ctx.t("audit.seq"),
        ctx.t("event.at"),
        ctx.t("audit.actor"),
        ctx.t("audit.action"),
        ctx.t("audit.detail"),
    ]
    return el(
        "details",
        {"class": "card"},
        el("summary", {}, ctx.t("event.audit"), f" ({len(entries)})"),
        table(headers, rows, ctx.t("event.audit")),
    )


def _facts(ctx: Ctx, s: StoredEvent) -> Html:
    e = s.event
    return _dl(
        [
            (ctx.t("event.id"), el("code", {}, e.event_id)),
            (ctx.t("col.time"), ctx.time(e.captured_at_us)),
            (ctx.t("event.received"), ctx.time(s.received_at_us)),
            (ctx.t("col.place"), f"{e.gateway_id} / {e.camera_id}"),
            (ctx.t("col.kind"), ctx.t(f"kind.{e.kind}")),
            (ctx.t("col.subject"), s.label or "—"),
            (
                ctx.t("event.location"),
                f"{e.location[0]:.5f}, {e.location[1]:.5f}" if e.location else "—",
            ),
            (ctx.t("event.models"), ", ".join(e.models)),
        ]
    )


def _export_section(ctx: Ctx, event_id: str) -> Html | None:
    if not ctx.can("export"):
        return None
    return el(
        "section",
        {"class": "card"},
        post_form(
            ctx,
            f"/events/{event_id}/export",
            el("button", {"type": "submit", "id": "export-btn"}, ctx.t("event.export")),
            el("small", {}, ctx.t("event.export.help")),
            class_="export",
        ),
    )


def _detail(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.principal is not None
    view = d.services.review.get_event(ctx.principal, m["id"])  # audited: review.view
    s, e = view.stored, view.stored.event
    side = el(
        "div",
        {"class": "side"},
        el("section", {"class": "card"}, el("h2", {}, ctx.t("event.facts")), _facts(ctx, s)),
        _verdict(ctx, view),
        _export_section(ctx, e.event_id),
        dispatch_section(ctx, d, s),
        platform_section(ctx, d, s),
        _integrity(ctx, view, _signature_ok(d, s), d),
    )
    body = [
        el("div", {"class": "event-grid"}, _scene(ctx, s), side),
        _audit_trail(ctx, d, e.event_id),
    ]
    msg = ctx.req.arg("msg")
    return html_response(
        page(ctx, ctx.t("event.title"), body, "/search", ctx.t(msg) if msg in NOTICES else None)
    )


def _blob(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.principal is not None
    info, data = d.services.review.get_blob(ctx.principal, m["id"], m["name"])  # audited
    return Response(200, data, info.media_type, [("Cache-Control", "private, no-store")])


def _set_verdict(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.principal is not None
    form = ctx.req.form()
    note = field_value(form, "note").strip()
    if not note:
        raise QueryError(ctx.t("event.note_required"))
    d.services.review.set_verdict(ctx.principal, m["id"], field_value(form, "verdict"), note)  # type: ignore[arg-type]
    return redirect(f"/events/{m['id']}?msg=event.saved")


def _export(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.principal is not None
    files = d.services.review.export_files(ctx.principal, [m["id"]])  # audited: review.export
    name = f"evidence-{m['id']}"
    return Response(
        200,
        zip_package(files, name),
        "application/zip",
        [
            ("Content-Disposition", f'attachment; filename="{name}.zip"'),
            ("Cache-Control", "no-store"),
        ],
    )


ROUTES = (
    RouteSpec("GET", "/events/{id}", _detail, "view"),
    RouteSpec("GET", "/events/{id}/blob/{name}", _blob, "blob"),
    RouteSpec("POST", "/events/{id}/verdict", _set_verdict, "verdict"),
    RouteSpec("POST", "/events/{id}/export", _export, "export"),
)


def routes(d: Deps) -> list[Route]:
    return bind(d, ROUTES)
