"""What every page shares: the request context, the page frame, small widgets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from edge.errors import QueryError
from edge.store.auth import Principal
from edge.store.config import WebConfig
from edge.store.web.html import Html, Node, el, raw
from edge.store.web.http import Request
from edge.store.web.i18n import translate
from edge.store.web.policy import allowed
from edge.store.web.sessions import Session

_LOCAL_DT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$")
NAV: tuple[tuple[str, str, str], ...] = (
    ("/search", "nav.search", "search"),
    ("/analytics", "nav.analytics", "analytics"),
    ("/watchlist", "nav.watchlist", "watchlist"),
    ("/gateways", "nav.gateways", "gateways"),
    ("/platform", "nav.platform", "gateways"),
    ("/audit", "nav.audit", "audit"),
)


@dataclass(slots=True)
class Ctx:
    req: Request
    config: WebConfig
    lang: str
    principal: Principal | None = None
    session: Session | None = None

    def t(self, key: str, **values: object) -> str:
        return translate(self.lang, key, **values)

    @property
    def role(self) -> str | None:
        return self.principal.role if self.principal else None

    def can(self, action: str) -> bool:
        return allowed(self.role, action)

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(minutes=self.config.utc_offset_minutes))

    def time(self, us: int | None) -> str:
        if us is None:
            return "—"
        return datetime.fromtimestamp(us / 1e6, self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def parse_time(self, text: str, what: str) -> int | None:
        """A local date or date-time from a form field, as UTC microseconds."""
        if not text:
            return None
        m = _LOCAL_DT.match(text.strip())
        if not m:
            raise QueryError(f"{what}: {text[:40]!r} is not a date (YYYY-MM-DD[THH:MM])")
        y, mo, d, h, mi, sec = (int(p) if p else 0 for p in m.groups())
        try:
            local = datetime(y, mo, d, h, mi, sec, tzinfo=self.tz)
        except ValueError as e:
            raise QueryError(f"{what}: {e}") from None
        return int(local.astimezone(UTC).timestamp()) * 1_000_000

    def local_input(self, us: int | None, with_time: bool = True) -> str:
        if us is None:
            return ""
        fmt = "%Y-%m-%dT%H:%M" if with_time else "%Y-%m-%d"
        return datetime.fromtimestamp(us / 1e6, self.tz).strftime(fmt)

    def csrf(self) -> Html:
        token = self.session.csrf if self.session else ""
        return el("input", {"type": "hidden", "name": "csrf", "value": token})


def post_form(ctx: Ctx, action: str, *children: Node, **attrs: str | bool) -> Html:
    return el("form", {"method": "post", "action": action, **attrs}, ctx.csrf(), *children)


def field(label: str, control: Html, hint: str | None = None, cls: str = "field") -> Html:
    return el(
        "div",
        {"class": cls},
        el("label", {}, el("span", {}, label), control),
        el("small", {}, hint) if hint else None,
    )


def checkbox(name: str, label: str, checked: bool = False) -> Html:
    """A labelled tick box sending ``name=1`` when ticked."""
    box = el("input", {"type": "checkbox", "name": name, "value": "1", "checked": checked})
    return el("div", {"class": "field check"}, el("label", {}, box, label))


def select(name: str, options: Sequence[tuple[str, str]], value: str, **attrs: str) -> Html:
    return el(
        "select",
        {"name": name, **attrs},
        [el("option", {"value": v, "selected": v == value}, text) for v, text in options],
    )


def badge(text: str, kind: str) -> Html:
    return el("span", {"class": f"badge badge-{kind}"}, text)


def verdict_badge(ctx: Ctx, verdict: str | None) -> Html:
    v = verdict or "pending"
    return badge(ctx.t(f"verdict.{v}"), v)


def integrity_badge(ctx: Ctx, state: str) -> Html:
    return badge(ctx.t(f"integrity.{state}"), "ok" if state == "ok" else "bad")


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    caption: str | None = None,
    cards: bool = False,
) -> Html:
    """A scrollable table; ``cards`` turns rows into labelled cards on narrow screens."""
    body = [
        el("tr", {}, [el("td", {"data-label": h}, c) for h, c in zip(headers, row, strict=False)])
        for row in rows
    ]
    return el(
        "div",
        {
            "class": "table-wrap cards" if cards else "table-wrap",
            "tabindex": "0",
            "role": "region",
            "aria-label": caption or "",
        },
        el(
            "table",
            {},
            el("caption", {}, caption) if caption else None,
            el("thead", {}, el("tr", {}, [el("th", {"scope": "col"}, h) for h in headers])),
            el("tbody", {}, body),
        ),
    )


def link_with(path: str, params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return path + ("?" + urlencode(kept) if kept else "")


def _nav(ctx: Ctx, active: str) -> Html:
    items = [
        el(
            "li",
            {},
            el("a", {"href": href, "aria-current": "page" if href == active else None}, ctx.t(key)),
        )
        for href, key, action in NAV
        if ctx.can(action)
    ]
    user = ctx.principal
    here = link_with(ctx.req.path, {k: v[0] for k, v in ctx.req.query.items() if v})
    other = "en" if ctx.lang != "en" else "zh-CN"
    return el(
        "header",
        {"class": "top"},
        el("span", {"class": "brand"}, ctx.t("app")),
        el("nav", {"aria-label": ctx.t("nav")}, el("ul", {}, items)) if user else None,
        el(
            "div",
            {"class": "who"},
            el(
                "a",
                {
                    "href": link_with("/lang", {"to": other, "next": here}),
                    "lang": "en" if other == "en" else "zh-CN",
                },
                ctx.t("lang.switch"),
            ),
            [
                el("span", {"class": "user"}, user.name, " · ", ctx.t(f"role.{user.role}")),
                post_form(
                    ctx,
                    "/logout",
                    el("button", {"type": "submit", "class": "link"}, ctx.t("logout")),
                ),
            ]
            if user and user.role
            else None,
        ),
    )


def page(ctx: Ctx, title: str, body: Node, active: str = "", notice: str | None = None) -> Html:
    lang = "en" if ctx.lang == "en" else "zh-CN"
    head = el(
        "head",
        {},
        el("meta", {"charset": "utf-8"}),
        el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
        el("title", {}, f"{title} · {ctx.t('app')}"),
        el("link", {"rel": "stylesheet", "href": "/static/app.css"}),
        el("script", {"src": "/static/app.js", "defer": True}),
    )
    body_html = el(
        "body",
        {},
        el("a", {"class": "skip", "href": "#main"}, ctx.t("skip")),
        _nav(ctx, active),
        el(
            "main",
            {"id": "main", "tabindex": "-1"},
            el("h1", {}, title),
            el("p", {"class": "notice", "role": "status"}, notice) if notice else None,
            body,
        ),
    )
    return Html(raw("<!doctype html>") + el("html", {"lang": lang}, head, body_html))


def error_page(ctx: Ctx, title: str, message: str) -> Html:
    return page(ctx, title, el("p", {"class": "error", "role": "alert"}, message))
