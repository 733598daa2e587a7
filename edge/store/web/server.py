"""The web port's server: uvicorn in a background thread of the store process.

``WebServer(config, app).start()`` binds the listening socket itself (so a taken port
is a clear ConfigError and port 0 is known at once), checks the TLS certificate and
key, then runs ``uvicorn.Server`` on its own event loop in a thread and returns once
it is serving; ``stop()`` sets ``should_exit`` and waits for uvicorn to close.

What protects other users from a bad client: the TLS handshake runs on the event
loop (asyncio's SSL transport), so a connection that never speaks TLS costs one idle
socket, not a thread, and is dropped after asyncio's handshake timeout (60 s); a
request head must arrive within ``header_timeout_s`` (edge/store/web/protocol.py), a
body within ``body_timeout_s`` and ``max_upload_bytes`` (edge/store/web/limits.py);
at most ``max_connections`` connections are served (uvicorn's ``limit_concurrency``,
503 beyond), and blocking work runs on ``threads`` worker threads (edge/store/web/asgi.py).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from edge.errors import ConfigError
from edge.store.config import WebConfig
from edge.store.web.protocol import with_header_timeout

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
#: how long in-flight requests may take to finish when the store stops
GRACE_S = 5


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ConfigError(f"web: cannot listen on {host}:{port}: {e.strerror}") from None
    sock.setblocking(False)
    return sock


class WebServer:
    """The reviewer page, REST API and /metrics, served by the store process."""

    def __init__(self, config: WebConfig, app: ASGIApp) -> None:
        self._config = config
        self._app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
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

    def _check_tls(self) -> None:
        """A clear error for an unreadable certificate or key (uvicorn loads them again)."""
        tls = self._config.tls
        if tls is None:
            return
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(tls.cert, tls.key)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"web.tls: cannot load {str(tls.cert)!r} / key: {e}") from None

    def _uvicorn_config(self) -> uvicorn.Config:
        cfg = self._config
        return uvicorn.Config(
            self._app,
            http=with_header_timeout(cfg.header_timeout_s),
            loop="asyncio",
            ws="none",
            lifespan="on",
            interface="asgi3",
            log_config=None,  # the store's JSON logging stays as it is
            log_level="warning",
            access_log=False,  # ours names route templates, never paths or queries
            server_header=False,
            proxy_headers=False,  # edge/store/web/asgi.py trusts web.trusted_proxies only
            limit_concurrency=cfg.max_connections,
            timeout_keep_alive=cfg.keep_alive_s,
            timeout_graceful_shutdown=GRACE_S,
            h11_max_incomplete_event_size=64 << 10,
            ssl_certfile=str(cfg.tls.cert) if cfg.tls else None,
            ssl_keyfile=str(cfg.tls.key) if cfg.tls else None,
        )

    def start(self) -> int:
        """Bind and serve in a background thread; returns the bound port."""
        self._check_tls()
        sock = _bind(self._config.host, self._config.port)
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        server = uvicorn.Server(self._uvicorn_config())
        self._server = server
        self._thread = threading.Thread(
            target=self._run, args=(server, sock), name="web", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"web: the server on port {self.port} did not start")
            time.sleep(0.01)
        log.info("web page serving", extra={"url": self.url})
        return self.port

    @staticmethod
    def _run(server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException:  # uvicorn exits on a failed startup; start() reports it
            log.exception("web server stopped with an error")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=GRACE_S + 10)
            self._thread = None
        self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        log.info("web page stopped")
