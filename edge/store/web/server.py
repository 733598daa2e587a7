"""The reviewer page's HTTP server: standard-library ThreadingHTTPServer, one thread.

``WebServer(config, services).start()`` binds, starts serving in a background thread
and returns the port; ``stop()`` shuts it down. The store's composition root creates it
with the same service objects the gRPC servicers use. Requests are parsed here into
``Request`` values (bodies bounded by ``max_upload_bytes``) and answered by ``App``;
access logging names the route and status only, never query strings (they can hold
plate numbers) or ids.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from edge.errors import ConfigError
from edge.store.config import WebConfig
from edge.store.web import (
    pages_admin,
    pages_analytics,
    pages_auth,
    pages_dispatch,
    pages_event,
    pages_platform,
    pages_search,
)
from edge.store.web.app import App
from edge.store.web.http import SECURITY_HEADERS, Request, Response, text_response
from edge.store.web.services import Deps, WebServices
from edge.store.web.sessions import LoginGuard, SessionStore

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 30
_ID_PART = re.compile(r"/[^/]{16,}")


def route_name(path: str) -> str:
    return _ID_PART.sub("/:id", path)[:80]


def build_app(config: WebConfig, services: WebServices) -> App:
    deps = Deps(config, services, SessionStore(config, services.repo.sessions), LoginGuard(config))
    routes = [
        *pages_auth.routes(deps),
        *pages_search.routes(deps),
        *pages_event.routes(deps),
        *pages_dispatch.routes(deps),
        *pages_admin.routes(deps),
        *pages_analytics.routes(deps),
        *pages_platform.routes(deps),
    ]
    return App(deps, routes)


class _Handler(BaseHTTPRequestHandler):
    """One HTTP connection; ``_handler_class`` makes a subclass bound to one ``App``."""

    server_version = "EdgeWatch"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_S
    app: App
    limit: int  # largest accepted request body, bytes
    secure: bool

    def log_message(self, format: str, *args: Any) -> None:
        # the stdlib puts the request line (with query strings) into args: drop them
        log.debug("http server: %s", format.split(" ")[0])

    def _send(self, resp: Response, head: bool = False) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        has_cache = any(k.lower() == "cache-control" for k, _ in resp.headers)
        if not has_cache:
            self.send_header("Cache-Control", "no-store")
        for k, v in (*SECURITY_HEADERS, *resp.headers):
            self.send_header(k, v)
        if self.secure:
            self.send_header("Strict-Transport-Security", "max-age=31536000")
        self.end_headers()
        if not head:
            self.wfile.write(resp.body)

    def _read_body(self) -> bytes | Response:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return text_response("chunked bodies are not accepted; send Content-Length", 411)
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return text_response("bad Content-Length", 400)
        if n < 0 or n > self.limit:
            self.close_connection = True
            return text_response(f"body too large (at most {self.limit} bytes)", 413)
        return self.rfile.read(n) if n else b""

    def _request(self, parts: SplitResult, body: bytes) -> Request:
        return Request(
            method=self.command,
            path=unquote(parts.path) or "/",
            query=parse_qs(parts.query, keep_blank_values=True, max_num_fields=100),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client=str(self.client_address[0]),
            secure=self.secure,
        )

    def _handle(self) -> None:
        started = time.perf_counter()
        parts = urlsplit(self.path)
        body = self._read_body() if self.command == "POST" else b""
        resp = body if isinstance(body, Response) else self.app.handle(self._request(parts, body))
        self._send(resp, head=self.command == "HEAD")
        log.info(
            "web request",
            extra={
                "method": self.command,
                "route": route_name(parts.path),
                "status": resp.status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._send(text_response("method not allowed", 405))

    def do_DELETE(self) -> None:
        self._send(text_response("method not allowed", 405))


def _handler_class(app: App, config: WebConfig) -> type[BaseHTTPRequestHandler]:
    bound = {
        "app": app,
        "limit": config.max_upload_bytes + (64 << 10),
        "secure": config.tls is not None,
    }
    return type("Handler", (_Handler,), bound)


class WebServer:
    """The reviewer web page, served by the store process."""

    def __init__(self, config: WebConfig, services: WebServices) -> None:
        self._config = config
        self._services = services
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self._config.tls else "http"
        host = self._config.host
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self.port}"

    @property
    def public_url(self) -> str:
        return (self._config.public_url or self.url).rstrip("/")

    def _tls(self) -> ssl.SSLContext | None:
        tls = self._config.tls
        if tls is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(tls.cert, tls.key)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"web.tls: cannot load {str(tls.cert)!r} / key: {e}") from None
        return ctx

    def start(self) -> int:
        """Bind and serve in a background thread; returns the bound port."""
        app = build_app(self._config, self._services)
        tls = self._tls()
        try:
            httpd = ThreadingHTTPServer(
                (self._config.host, self._config.port), _handler_class(app, self._config)
            )
        except OSError as e:
            raise ConfigError(
                f"web: cannot listen on {self._config.host}:{self._config.port}: {e.strerror}"
            ) from None
        httpd.daemon_threads = True
        if tls is not None:
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        self._thread = threading.Thread(target=httpd.serve_forever, name="web", daemon=True)
        self._thread.start()
        log.info("web page serving", extra={"url": self.url})
        return self.port

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        log.info("web page stopped")
