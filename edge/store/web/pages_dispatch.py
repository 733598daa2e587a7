"""Dispatch on the event page: state, the button, live status, package download."""

from __future__ import annotations

import json
from typing import Any

from edge.errors import StoreError
from edge.store.dispatch import DispatchRecord
from edge.store.repository import StoredEvent
from edge.store.web.app import Params, Route, RouteSpec, bind
from edge.store.web.html import Html, el
from edge.store.web.http import Response, redirect
from edge.store.web.layout import Ctx, badge, post_form, table
from edge.store.web.services import Deps


def _dispatch_rows(ctx: Ctx, records: list[DispatchRecord]) -> list[list[Any]]:
    return [
        [
            badge(ctx.t(f"dispatch.{r.state}"), r.state),
            r.attempts,
            r.last_status or "—",
            ctx.time(r.next_attempt_us) if r.state == "pending" else "—",
            el(
                "a",
                {"href": f"/dispatches/{r.dispatch_id}/package.zip"},
                r.package_sha256[:16] + "…",
            ),
        ]
        for r in records
    ]


def _dispatch_table(ctx: Ctx, records: list[DispatchRecord]) -> Html:
    if not records:
        return el("p", {}, ctx.t("dispatch.none"))
    keys = ("state", "attempts", "last", "next", "package")
    headers = [ctx.t(f"dispatch.{k}") for k in keys]
    return table(headers, _dispatch_rows(ctx, records), ctx.t("dispatch.title"))


def _dispatch_action(ctx: Ctx, s: StoredEvent, records: list[DispatchRecord]) -> Html | None:
    """The button, or why there is none (not confirmed), or nothing while one is live."""
    if s.verdict != "confirmed":
        return el("p", {"class": "muted"}, ctx.t("dispatch.only_confirmed"))
    if any(r.state in ("pending", "delivered") for r in records):
        return None
    return post_form(
        ctx,
        f"/events/{s.event.event_id}/dispatch",
        el(
            "button",
            {"type": "submit", "class": "primary", "id": "dispatch-btn"},
            ctx.t("dispatch.button"),
        ),
    )


def dispatch_section(ctx: Ctx, d: Deps, s: StoredEvent) -> Html | None:
    if not ctx.can("dispatch"):
        return None
    svc = d.services.dispatch
    if svc is None:
        return el(
            "section",
            {"class": "card"},
            el("h2", {}, ctx.t("dispatch.title")),
            el("p", {}, ctx.t("dispatch.off")),
        )
    records = svc.for_event(s.event.event_id)
    pending = any(r.state == "pending" for r in records)
    return el(
        "section",
        {
            "class": "card",
            "id": "dispatch",
            "aria-labelledby": "dispatch-h",
            "aria-live": "polite",
            "data-poll": f"/events/{s.event.event_id}/dispatches.json" if pending else None,
        },
        el("h2", {"id": "dispatch-h"}, ctx.t("dispatch.title")),
        el("div", {"id": "dispatch-rows"}, _dispatch_table(ctx, records)),
        _dispatch_action(ctx, s, records),
    )


def _dispatch(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.principal is not None
    if d.services.dispatch is None:
        raise StoreError(ctx.t("dispatch.off"))
    d.services.dispatch.dispatch(ctx.principal, m["id"])
    return redirect(f"/events/{m['id']}?msg=dispatch.created#dispatch")


def _dispatch_state(d: Deps, ctx: Ctx, m: Params) -> Response:
    svc = d.services.dispatch
    records = svc.for_event(m["id"]) if svc else []
    rows = [
        {
            "state": r.state,
            "label": ctx.t(f"dispatch.{r.state}"),
            "attempts": r.attempts,
            "last_status": r.last_status,
            "next": ctx.time(r.next_attempt_us) if r.state == "pending" else "—",
            "package": f"/dispatches/{r.dispatch_id}/package.zip",
            "sha": r.package_sha256[:16] + "…",
        }
        for r in records
    ]
    body = json.dumps(rows, ensure_ascii=False).encode()
    return Response(200, body, "application/json; charset=utf-8", [("Cache-Control", "no-store")])


def _package(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.principal is not None
    if d.services.dispatch is None:
        raise StoreError(ctx.t("dispatch.off"))
    record, data = d.services.dispatch.package(ctx.principal, m["id"])  # audited
    name = f"evidence-{record.event_id}-{record.package_sha256[:12]}.zip"
    return Response(
        200,
        data,
        "application/zip",
        [("Content-Disposition", f'attachment; filename="{name}"')],
    )


ROUTES = (
    RouteSpec("POST", "/events/{id}/dispatch", _dispatch, "dispatch"),
    RouteSpec("GET", "/events/{id}/dispatches.json", _dispatch_state, "dispatch"),
    RouteSpec("GET", "/dispatches/{id}/package.zip", _package, "dispatch"),
)


def routes(d: Deps) -> list[Route]:
    return bind(d, ROUTES)
