"""The reviewer page's request pipeline: session, CSRF, role, then the page handler.

Routing is Starlette's (edge/store/web/asgi.py matches the path and method and hands
over the route and its path parameters); this module decides, for every request:
static assets and the login page need no session; anything else needs a live session
whose user (looked up again by token hash) is still active; every POST must carry the
session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``) and, if the
browser sends an Origin, come from this site; the route's action must be allowed for
the user's role (edge/store/web/policy.py). Only then does the page handler run and
call the store's services, which write the audit entries. All of it is synchronous and
runs on the page's bounded worker threads, never on the event loop.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from urllib.parse import quote, urlsplit

from edge.errors import EdgeError, EvidenceError, NotFoundError
from edge.store.auth import Principal
from edge.store.web.http import (
    Request,
    Response,
    field_value,
    html_response,
    redirect,
    text_response,
)
from edge.store.web.i18n import LANGS
from edge.store.web.layout import Ctx, error_page
from edge.store.web.policy import allowed, required_role
from edge.store.web.services import Deps
from edge.store.web.sessions import Session

log = logging.getLogger(__name__)

SESSION_COOKIE = "ew_session"
LANG_COOKIE = "ew_lang"
STATIC = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}

#: path parameters of the matched route (``{id}``, ``{name}``)
Params = Mapping[str, str]
Handler = Callable[[Ctx, Params], Response]
#: a page handler as the page modules write it: the shared services come first
PageHandler = Callable[[Deps, Ctx, Params], Response]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # a Starlette path template, e.g. /events/{id}
    handler: Handler
    action: str | None  # None: public; "session": any logged-in user; else a policy action


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One row of a page module's route table, before the services are bound."""

    method: str
    path: str
    handler: PageHandler
    action: str | None


def bind(d: Deps, specs: Sequence[RouteSpec]) -> list[Route]:
    """The routes of a table, each handler given the store's services."""
    return [Route(s.method, s.path, functools.partial(s.handler, d), s.action) for s in specs]


class Pages:
    """Runs one matched page route for one request (see the module docstring)."""

    def __init__(self, deps: Deps) -> None:
        self._s = deps

    def _lang(self, req: Request) -> str:
        lang = req.cookies.get(LANG_COOKIE, "")
        return lang if lang in LANGS else self._s.config.language

    def _who(self, req: Request) -> tuple[Session | None, Principal | None]:
        sid = req.cookies.get(SESSION_COOKIE)
        if not sid:
            return None, None
        session = self._s.sessions.get(sid, self._s.clock())
        if session is None:
            return None, None
        user = self._s.repo.users.user_by_token_hash(session.token_sha256)
        if user is None or user.revoked or user.name != session.user:
            self._s.sessions.drop(sid)
            return None, None
        return session, Principal("person", user.name, user.role)

    def _csrf_ok(self, req: Request, session: Session) -> bool:
        origin = req.headers.get("origin")
        if origin and origin != "null":
            host = urlsplit(origin).netloc
            if host != req.headers.get("host", ""):
                return False
        sent = req.headers.get("x-csrf-token") or field_value(req.form(), "csrf")
        return bool(sent) and hmac.compare_digest(sent.encode(), session.csrf.encode())

    def static(self, name: str) -> Response:
        if name not in STATIC:
            return text_response("not found", 404)
        data = resources.files("edge.store.web").joinpath("static", name).read_bytes()
        return Response(200, data, STATIC[name], [("Cache-Control", "no-cache")])

    def error(self, req: Request, status: int, detail: str | None = None) -> Response:
        """An error page without a handler: no such path (404), a method the path does
        not take (405), a request that cannot be parsed (400)."""
        ctx = Ctx(req, self._s.config, self._lang(req))
        key = "err.notfound" if status == 404 else "err.bad"
        if detail is None:
            detail = req.path if status == 404 else f"{req.method} {req.path}: method not allowed"
        return html_response(error_page(ctx, ctx.t(key), detail), status)

    def handle(self, route: Route, req: Request, params: Params) -> Response:
        ctx = Ctx(req, self._s.config, self._lang(req))
        try:
            return self._dispatch(route, ctx, params)
        except NotFoundError as e:
            return html_response(error_page(ctx, ctx.t("err.notfound"), str(e)), 404)
        except EvidenceError as e:
            return html_response(error_page(ctx, ctx.t("err.bad"), str(e)), 409)
        except EdgeError as e:
            return html_response(error_page(ctx, ctx.t("err.bad"), str(e)), 400)
        except Exception:
            log.exception("web request failed", extra={"method": req.method, "route": route.path})
            return html_response(error_page(ctx, ctx.t("err.server"), ctx.t("err.server")), 500)

    def _dispatch(self, r: Route, ctx: Ctx, m: Params) -> Response:
        req = ctx.req
        if r.action is None:
            ctx.session, ctx.principal = self._who(req)
            return r.handler(ctx, m)
        ctx.session, ctx.principal = self._who(req)
        if ctx.session is None or ctx.principal is None:
            if req.method in ("GET", "HEAD"):
                return redirect("/login?next=" + quote(_here(req), safe="/"))
            return text_response("not logged in: POST requires a session", 401)
        if req.method == "POST" and not self._csrf_ok(req, ctx.session):
            log.warning("csrf refused", extra={"route": r.path, "user": ctx.principal.name})
            return html_response(error_page(ctx, ctx.t("err.forbidden"), ctx.t("err.csrf")), 403)
        if r.action != "session" and not allowed(ctx.role, r.action):
            return self._forbidden(ctx, r.action)
        return r.handler(ctx, m)

    def _forbidden(self, ctx: Ctx, action: str) -> Response:
        assert ctx.principal is not None
        log.info("web action refused", extra={"action": action, "user": ctx.principal.name})
        need = required_role(action)
        text = ctx.t(
            "err.forbidden.text",
            role=ctx.t(f"role.{ctx.role}"),
            need=ctx.t(f"role.{need}") if need != "nobody" else "—",
        )
        body = error_page(ctx, ctx.t("err.forbidden"), text)
        return html_response(body, 403)


def _here(req: Request) -> str:
    return req.path + (
        "?" + "&".join(f"{k}={quote(v[0])}" for k, v in req.query.items()) if req.query else ""
    )
