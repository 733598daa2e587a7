"""Dispatch on the event page: state, the button, live status, package download."""

from __future__ import annotations

import json
import re
from typing import Any

from edge.errors import StoreError
from edge.store.dispatch import DispatchRecord
from edge.store.repository import StoredEvent
from edge.store.web.app import Route, route
from edge.store.web.html import Html, el
from edge.store.web.http import Response, redirect
from edge.store.web.layout import Ctx, badge, post_form, table
from edge.store.web.services import Deps

ID = r"(?P<id>[A-Za-z0-9._-]{1,128})"


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
    busy = any(r.state in ("pending", "delivered") for r in records)
    headers = [
        ctx.t(k)
        for k in (
            "dispatch.state",
            "dispatch.attempts",
            "dispatch.last",
            "dispatch.next",
            "dispatch.package",
        )
    ]
    rows = (
        table(headers, _dispatch_rows(ctx, records), ctx.t("dispatch.title"))
        if records
        else el("p", {}, ctx.t("dispatch.none"))
    )
    if s.verdict != "confirmed":
        action: Html | None = el("p", {"class": "muted"}, ctx.t("dispatch.only_confirmed"))
    elif busy:
        action = None
    else:
        action = post_form(
            ctx,
            f"/events/{s.event.event_id}/dispatch",
            el(
                "button",
                {"type": "submit", "class": "primary", "id": "dispatch-btn"},
                ctx.t("dispatch.button"),
            ),
        )
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
        el("div", {"id": "dispatch-rows"}, rows),
        action,
    )


def routes(d: Deps) -> list[Route]:
    def dispatch(ctx: Ctx, m: re.Match[str]) -> Response:
        assert ctx.principal is not None
        if d.services.dispatch is None:
            raise StoreError(ctx.t("dispatch.off"))
        d.services.dispatch.dispatch(ctx.principal, m["id"])
        return redirect(f"/events/{m['id']}?msg=dispatch.created#dispatch")

    def dispatch_state(ctx: Ctx, m: re.Match[str]) -> Response:
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
        return Response(
            200, body, "application/json; charset=utf-8", [("Cache-Control", "no-store")]
        )

    def package(ctx: Ctx, m: re.Match[str]) -> Response:
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

    return [
        route("POST", f"/events/{ID}/dispatch", dispatch, "dispatch"),
        route("GET", f"/events/{ID}/dispatches.json", dispatch_state, "dispatch"),
        route("GET", f"/dispatches/{ID}/package.zip", package, "dispatch"),
    ]
