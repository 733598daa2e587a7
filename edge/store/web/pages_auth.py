"""Login (user name + access token), logout, language switch, health check."""

from __future__ import annotations

import hmac
import logging
import re
import secrets

from edge.pki import token_sha256
from edge.store.auth import Principal
from edge.store.config import ID_PATTERN
from edge.store.repository import User
from edge.store.web.app import LANG_COOKIE, SESSION_COOKIE, Params, Route, RouteSpec, bind
from edge.store.web.html import el
from edge.store.web.http import (
    Response,
    cookie_header,
    field_value,
    html_response,
    local_path,
    redirect,
    text_response,
)
from edge.store.web.i18n import LANGS
from edge.store.web.layout import Ctx, field, page
from edge.store.web.services import Deps

log = logging.getLogger(__name__)

PRE_COOKIE = "ew_pre"  # login-form CSRF: double-submit value set with the form
_NAME = re.compile(ID_PATTERN)


def _audit_name(name: str) -> str:
    """A typed name as the audit log may keep it: a token pasted into the name field
    (or any other text that is no account name) is never written down."""
    return name if _NAME.match(name) else "(not a user name)"


def _login_page(ctx: Ctx, pre: str, message: str | None, status: int, name: str = "") -> Response:
    nxt = local_path(ctx.req.arg("next") or field_value(ctx.req.form(), "next"))
    form = el(
        "form",
        {"method": "post", "action": "/login", "class": "login"},
        el("input", {"type": "hidden", "name": "csrf", "value": pre}),
        el("input", {"type": "hidden", "name": "next", "value": nxt}),
        field(
            ctx.t("login.name"),
            el(
                "input",
                {
                    "name": "name",
                    "id": "name",
                    "value": name,
                    "autocomplete": "username",
                    "required": True,
                    "autofocus": True,
                },
            ),
        ),
        field(
            ctx.t("login.token"),
            el(
                "input",
                {
                    "name": "token",
                    "id": "token",
                    "type": "password",
                    "autocomplete": "current-password",
                    "required": True,
                },
            ),
            ctx.t("login.help"),
        ),
        el("button", {"type": "submit", "class": "primary"}, ctx.t("login.submit")),
    )
    alert = el("p", {"class": "error", "role": "alert"}, message) if message else None
    resp = html_response(page(ctx, ctx.t("login.title"), [alert, form]), status)
    resp.headers.append(cookie_header(PRE_COOKIE, pre, max_age=3600, secure=ctx.req.secure))
    return resp


def _login_form(d: Deps, ctx: Ctx, _: Params) -> Response:
    if ctx.principal is not None:
        return redirect(local_path(ctx.req.arg("next")))
    expired = ctx.req.arg("expired") == "1"
    return _login_page(
        ctx, secrets.token_urlsafe(24), ctx.t("login.expired") if expired else None, 200
    )


def _refuse_login(d: Deps, ctx: Ctx, pre: str, name: str, now: int) -> Response:
    """A wrong name/token pair: count the failure (maybe locking out) and audit it."""
    client = ctx.req.client
    locked = d.guard.failed(name, client, now)
    d.services.auditor.record(
        f"anonymous:{client}",
        "web.login_failed",
        {"user": _audit_name(name), "locked": locked},
    )
    key = "login.locked" if locked else "login.failed"
    return _login_page(ctx, pre, ctx.t(key), 429 if locked else 401, name)


def _start_session(d: Deps, ctx: Ctx, user: User, now: int, target: str) -> Response:
    d.guard.succeeded(user.name, ctx.req.client)
    session = d.sessions.create(user.name, user.token_sha256, now)
    d.services.auditor.record(
        Principal("person", user.name, user.role), "web.login", {"client": ctx.req.client}
    )
    resp = redirect(local_path(target))
    resp.headers.append(
        cookie_header(SESSION_COOKIE, session.sid, max_age=None, secure=ctx.req.secure)
    )
    resp.headers.append(cookie_header(PRE_COOKIE, "", max_age=0, secure=ctx.req.secure))
    return resp


def _login(d: Deps, ctx: Ctx, _: Params) -> Response:
    form = ctx.req.form()
    pre = ctx.req.cookies.get(PRE_COOKIE, "")
    sent = field_value(form, "csrf")
    if not pre or not sent or not hmac.compare_digest(pre.encode(), sent.encode()):
        return _login_page(ctx, secrets.token_urlsafe(24), ctx.t("err.csrf"), 403)
    name = field_value(form, "name").strip()[:64]
    token = field_value(form, "token").strip()
    client, now = ctx.req.client, d.clock()
    if d.guard.locked(name, client, now):
        d.services.auditor.record(
            f"anonymous:{client}",
            "web.login_refused",
            {"user": _audit_name(name), "reason": "locked"},
        )
        return _login_page(ctx, pre, ctx.t("login.locked"), 429, name)
    user = d.repo.users.user_by_token_hash(token_sha256(token)) if token else None
    if user is None or user.revoked or user.name != name:
        return _refuse_login(d, ctx, pre, name, now)
    return _start_session(d, ctx, user, now, field_value(form, "next"))


def _logout(d: Deps, ctx: Ctx, _: Params) -> Response:
    if ctx.session is not None and ctx.principal is not None:
        d.sessions.drop(ctx.session.sid)
        d.services.auditor.record(ctx.principal, "web.logout", {})
    resp = redirect("/login")
    resp.headers.append(cookie_header(SESSION_COOKIE, "", max_age=0, secure=ctx.req.secure))
    return resp


def _lang(d: Deps, ctx: Ctx, _: Params) -> Response:
    to = ctx.req.arg("to")
    resp = redirect(local_path(ctx.req.arg("next")))
    if to in LANGS:
        resp.headers.append(
            cookie_header(LANG_COOKIE, to, max_age=365 * 86400, secure=ctx.req.secure)
        )
    return resp


def _health(d: Deps, ctx: Ctx, _: Params) -> Response:
    ok = d.repo.ping()
    return text_response("ok" if ok else "database unavailable", 200 if ok else 503)


def _home(d: Deps, ctx: Ctx, _: Params) -> Response:
    return redirect("/search")


ROUTES = (
    RouteSpec("GET", "/login", _login_form, None),
    RouteSpec("POST", "/login", _login, None),
    RouteSpec("POST", "/logout", _logout, "session"),
    RouteSpec("GET", "/lang", _lang, None),
    RouteSpec("GET", "/healthz", _health, None),
    RouteSpec("GET", "/", _home, "session"),
)


def routes(d: Deps) -> list[Route]:
    return bind(d, ROUTES)
