"""The store's web port as one ASGI application: reviewer pages, REST API, /metrics.

Starlette routes each request; a page request's body is read on the event loop
(bounded in size and time by edge/store/web/limits.py), then everything that touches
the repository (session lookup, CSRF, role, the page handler, form parsing) runs on a
worker thread of the loop's thread limiter, whose size is ``web.threads``: a slow
database or a burst of requests queues there and never blocks the event loop, so a
slow client never holds up anyone else. The REST API (edge/store/api) is mounted at
/api/v1 and /metrics is served by the caller's app; both share the same middleware:

  proxy headers (only from ``web.trusted_proxies``) -> access log + request metrics
  -> security headers -> body limits -> routing
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from edge.errors import QueryError
from edge.store.config import WebConfig
from edge.store.web.app import Pages
from edge.store.web.app import Route as PageRoute
from edge.store.web.http import Request, Response, parse_form
from edge.store.web.limits import BodyLimit, SecurityHeaders

log = logging.getLogger(__name__)

#: multipart overhead allowed on top of ``web.max_upload_bytes``
FORM_OVERHEAD = 64 << 10
MAX_QUERY_FIELDS = 100

#: (interface, route template, method, status, seconds) of one answered request
RequestObserver = Callable[[str, str, str, int, float], None]


@dataclass(frozen=True, slots=True)
class Extra:
    """What the composition root serves on the web port besides the pages."""

    api: ASGIApp | None = None
    metrics: ASGIApp | None = None
    observers: tuple[RequestObserver, ...] = field(default_factory=tuple)


def _request_value(request: StarletteRequest, config: WebConfig, body: bytes) -> Request:
    try:
        query = parse_qs(
            request.scope["query_string"].decode("latin-1"),
            keep_blank_values=True,
            max_num_fields=MAX_QUERY_FIELDS,
        )
    except ValueError:
        raise QueryError(f"more than {MAX_QUERY_FIELDS} query parameters") from None
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}
    fields, files = parse_form(headers.get("content-type", ""), body) if body else ({}, {})
    return Request(
        method=request.method,
        path=request.url.path,
        query=query,
        headers=headers,
        client=request.client.host if request.client else "",
        secure=config.tls is not None or request.url.scheme == "https",
        fields=fields,
        files=files,
    )


def to_starlette(resp: Response) -> StarletteResponse:
    out = StarletteResponse(resp.body, resp.status, media_type=resp.content_type)
    for name, value in resp.headers:
        out.headers.append(name, value)
    return out


def _bare_request(request: StarletteRequest, config: WebConfig) -> Request:
    """The request without its query and body (for error pages of the router)."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}
    client = request.client.host if request.client else ""
    return Request(request.method, request.url.path, {}, headers, client, config.tls is not None)


def _page_endpoint(
    pages: Pages, by_method: dict[str, PageRoute], config: WebConfig
) -> Callable[[StarletteRequest], Awaitable[StarletteResponse]]:
    async def endpoint(request: StarletteRequest) -> StarletteResponse:
        route = by_method[request.method if request.method != "HEAD" else "GET"]
        try:
            body = await request.body() if request.method not in ("GET", "HEAD") else b""
        except ClientDisconnect:  # nobody is left to answer
            return StarletteResponse(b"", 400)
        params = dict(request.path_params)

        def run() -> Response:
            try:
                req = _request_value(request, config, body)
            except QueryError as e:
                return pages.error(_bare_request(request, config), 400, str(e))
            return pages.handle(route, req, params)

        return to_starlette(await anyio.to_thread.run_sync(run))

    return endpoint


def page_routes(pages: Pages, routes: list[PageRoute], config: WebConfig) -> list[BaseRoute]:
    """One Starlette route per path (so a 405 names every method the path takes)."""
    paths: dict[str, dict[str, PageRoute]] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method] = r
    out: list[BaseRoute] = [
        Route(path, _page_endpoint(pages, by_method, config), methods=list(by_method))
        for path, by_method in paths.items()
    ]

    async def static(request: StarletteRequest) -> StarletteResponse:
        name = request.path_params["name"]
        return to_starlette(await anyio.to_thread.run_sync(pages.static, name))

    out.append(Route("/static/{name}", static, methods=["GET"]))
    return out


ErrorHandler = Callable[[StarletteRequest, Exception], Awaitable[StarletteResponse]]


def _error_handler(pages: Pages, config: WebConfig) -> ErrorHandler:
    async def handle(request: StarletteRequest, exc: Exception) -> StarletteResponse:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        resp = to_starlette(pages.error(_bare_request(request, config), status))
        if isinstance(exc, HTTPException) and exc.headers:
            resp.headers.update(exc.headers)
        return resp

    return handle


def route_template(scope: Scope) -> str:
    """The matched route's template (``/events/{id}``), never the path itself."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "unmatched"
    return (str(scope.get("root_path", "")) + path)[:100]


def interface_of(template: str) -> str:
    if template.startswith("/api/"):
        return "api"
    return "metrics" if template == "/metrics" else "web"


class AccessLog:
    """One log line per request (method, route template, status, time) and the request
    observers (metrics). Paths, query strings and ids are never logged."""

    def __init__(self, app: ASGIApp, observers: tuple[RequestObserver, ...]) -> None:
        self.app = app
        self.observers = observers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            seconds = time.perf_counter() - started
            template = route_template(scope)
            method = str(scope.get("method", "?"))
            log.info(
                "web request",
                extra={"method": method, "route": template, "status": status,
                       "ms": round(seconds * 1000, 1)},
            )  # fmt: skip
            for observe in self.observers:
                observe(interface_of(template), template, method, status, seconds)


def _lifespan(threads: int) -> Callable[[Starlette], object]:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # the one bound on threads doing blocking work for this port: page handlers,
        # API endpoints (FastAPI runs sync endpoints on the same limiter), static files
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


def build_asgi(config: WebConfig, pages: Pages, routes: list[PageRoute], extra: Extra) -> ASGIApp:
    handler = _error_handler(pages, config)
    mounted: list[BaseRoute] = []
    if extra.api is not None:
        mounted.append(Mount("/api/v1", app=extra.api))
    if extra.metrics is not None:
        mounted.append(Route("/metrics", extra.metrics, methods=["GET"]))
    app: ASGIApp = Starlette(
        routes=[*mounted, *page_routes(pages, routes, config)],
        exception_handlers={404: handler, 405: handler},
        lifespan=_lifespan(config.threads),  # type: ignore[arg-type]
    )
    app = BodyLimit(app, config.max_upload_bytes + FORM_OVERHEAD, config.body_timeout_s)
    app = SecurityHeaders(app)
    app = AccessLog(app, extra.observers)
    if config.trusted_proxies:
        trusted = [str(n) for n in config.trusted_proxies]
        app = ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type,assignment]
    return app
