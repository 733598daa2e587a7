"""The central store's composition root: open, wire, serve; stop in reverse order.

One gRPC port with mutual TLS required at the TLS layer (``require_client_auth=True``):
every peer — gateway or person — shows a certificate of the deployment CA, so the
handshake already refuses other CAs and expired certificates. Authorisation happens
per call in the auth interceptor (gateway certificates vs person bearer tokens, see
edge/store/auth.py). The standard grpc.health.v1 service answers SERVING while the
store is up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from edge.errors import ConfigError, StoreError
from edge.pki import RevocationList
from edge.store.admin_service import AdminService, raw_public_key
from edge.store.audit import Auditor
from edge.store.auth import Authenticator, RepoDirectory
from edge.store.blobs import BlobStore
from edge.store.config import StoreConfig
from edge.store.faces import CentralFaces, FaceSearchIndex
from edge.store.ingest import IngestService, now_us
from edge.store.interceptor import AuthInterceptor
from edge.store.metrics import StoreMetrics
from edge.store.platform import Platform
from edge.store.postgres_repo import PostgresDatabase
from edge.store.repository import User
from edge.store.retention import RetentionWorker
from edge.store.review_service import ReviewService
from edge.store.servicers import (
    AdminServicer,
    IngestServicer,
    ReviewServicer,
    WatchlistAdminServicer,
    WatchlistSyncServicer,
)
from edge.store.sql import Database
from edge.store.sql_repo import SqlRepository
from edge.store.sqlite_repo import SqliteDatabase
from edge.store.watchlist_service import WatchlistService
from edge.store.web.wiring import RunningWeb, start_web
from edge.wire.v1 import admin_pb2_grpc, ingest_pb2_grpc, review_pb2_grpc, watchlist_pb2_grpc

log = logging.getLogger(__name__)

SERVICES = (
    "edge.v1.Ingest",
    "edge.v1.WatchlistSync",
    "edge.v1.WatchlistAdmin",
    "edge.v1.Review",
    "edge.v1.Admin",
)
WORKERS = 32


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{what} {str(path)!r} cannot be read: {e.strerror}") from None


def build_database(config: StoreConfig) -> Database:
    db = config.database
    if db.kind == "sqlite":
        return SqliteDatabase(db.path)
    return PostgresDatabase(db.url, db.pool)


class StoreServer:
    def __init__(
        self, config: StoreConfig, models_dir: Path | None = None, clock: Callable[[], int] = now_us
    ) -> None:
        self._config = config
        self._models_dir = models_dir
        self._clock = clock
        self._repo: SqlRepository | None = None
        self._server: grpc.Server | None = None
        self._health: health.HealthServicer | None = None
        self._retention: RetentionWorker | None = None
        self._web: RunningWeb | None = None
        #: this store's Prometheus registry and hooks (never the global registry)
        self.metrics = StoreMetrics()
        self._platform: Platform | None = None
        #: the services the gRPC servicers use, shared with the web page
        self._shared: tuple[ReviewService, WatchlistService, AdminService] | None = None
        self.port = 0
        self.web_port = 0

    def _seed(self, repo: SqlRepository) -> None:
        """Users and gateways named in the config exist in the repository as configured."""
        now = self._clock()
        for u in self._config.users:
            known = repo.users.user_by_token_hash(u.token_sha256)
            if known is None or (known.name, known.role, known.revoked) != (u.name, u.role, False):
                repo.users.put_user(User(u.name, u.role, u.token_sha256, now))
        for g in self._config.gateways:
            if g.public_key_file is not None:
                raw = raw_public_key(
                    _read(g.public_key_file, "gateway key"), str(g.public_key_file)
                )
            else:
                raw = raw_public_key(g.public_key_pem or "", f"gateways[{g.id}].public_key_pem")
            info = repo.gateways.get_gateway(g.id)
            if info is None or (info.public_key, info.cert_fingerprint) != (
                raw,
                g.cert_fingerprint,
            ):
                repo.gateways.register_gateway(g.id, raw, g.cert_fingerprint, now)

    def _credentials(self) -> grpc.ServerCredentials:
        tls = self._config.tls
        return grpc.ssl_server_credentials(
            [(_read(tls.key, "server key"), _read(tls.cert, "server certificate"))],
            root_certificates=_read(tls.ca, "CA certificate"),
            require_client_auth=True,
        )

    def start(self) -> int:
        """Open storage, start serving; returns the bound port."""
        cfg = self._config
        revoked = RevocationList(cfg.tls.revoked)
        revoked.load()
        creds = self._credentials()
        db = build_database(cfg)
        repo = SqlRepository(db)
        repo.open()
        self._repo = repo
        blobs = repo.blobs
        self._seed(repo)
        auditor = Auditor(repo.audit, self._clock)
        self._platform = Platform(cfg, db, repo, blobs, auditor, self._clock)
        self._platform.open()
        server = self._build_server(repo, blobs, auditor, revoked)
        self.port = server.add_secure_port(cfg.listen, creds)
        if self.port == 0:
            raise StoreError(f"cannot listen on {cfg.listen} (address in use or not local?)")
        server.start()
        self._server = server
        assert self._health is not None
        for name in ("", *SERVICES):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._retention = RetentionWorker(cfg.retention, repo, auditor, self._clock)
        self._retention.start()
        assert self._shared is not None
        self._web = start_web(
            cfg.web,
            db,
            repo,
            blobs,
            auditor,
            *self._shared,
            self._clock,
            metrics_app=self.metrics.asgi_app(cfg.web.metrics, cfg.web.host),
            observers=(self.metrics.http_request,),
            platform=self._platform,
        )
        self.web_port = self._web.port if self._web else 0
        web = self._web
        dispatch = web.dispatch if web else None
        self._platform.start(dispatch, lambda: web.server.public_url if web else None)
        viid = self._platform.viid
        self.metrics.watch_state(
            repo,
            cfg.retention,
            self._clock,
            dispatch.queue_counts if dispatch else None,
            viid.status if viid is not None else None,
        )
        auditor.record("system:store", "store.start", {"listen": cfg.listen, "db": repo.backend})
        log.info("store serving", extra={"listen": cfg.listen, "port": self.port})
        return self.port

    def _build_server(
        self,
        repo: SqlRepository,
        blobs: BlobStore,
        auditor: Auditor,
        revoked: RevocationList,
    ) -> grpc.Server:
        cfg = self._config
        platform = self._platform
        assert platform is not None
        faces = CentralFaces(cfg.vision, self._models_dir)
        index = FaceSearchIndex(repo.watchlist, faces.model_id)
        watchlist = WatchlistService(repo, faces, auditor, self._clock)
        review = ReviewService(
            repo, blobs, faces, index, auditor, self._clock, cfg.vision.match.face_threshold,
            on_verdict=platform.on_verdict,
        )  # fmt: skip
        auth = Authenticator(RepoDirectory(repo.users, repo.gateways), revoked.current)
        limit = cfg.limits.max_message_bytes
        server = grpc.server(
            ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="rpc"),
            interceptors=[AuthInterceptor(auth, self.metrics.grpc_request)],
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
            ],
        )
        ingest_pb2_grpc.add_IngestServicer_to_server(
            IngestServicer(
                IngestService(repo, cfg.limits, self._clock, self.metrics, platform.on_stored),
                cfg.limits.max_events_per_message,
            ),
            server,
        )
        watchlist_pb2_grpc.add_WatchlistSyncServicer_to_server(
            WatchlistSyncServicer(watchlist), server
        )
        watchlist_pb2_grpc.add_WatchlistAdminServicer_to_server(
            WatchlistAdminServicer(watchlist), server
        )
        review_pb2_grpc.add_ReviewServicer_to_server(ReviewServicer(review), server)
        admin = AdminService(repo, auditor, self._clock, platform.links)
        admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(admin), server)
        self._shared = (review, watchlist, admin)
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        return server

    @property
    def web_url(self) -> str | None:
        """Where the reviewer web page is served (None when disabled or not started)."""
        return self._web.server.url if self._web is not None else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (True) or ``timeout`` passes (False)."""
        return bool(self._server is None or self._server.wait_for_termination(timeout))

    @property
    def platform(self) -> Platform | None:
        """GA/T 1400 push, dispatch rules and link state (None before start)."""
        return self._platform

    def stop(self, grace: float = 10.0) -> None:
        """Refuse new calls, let in-flight ones finish (up to ``grace``), close storage."""
        if self._platform is not None:
            self._platform.stop()
        if self._web is not None:
            self._web.stop()
            self._web = None
        if self._health is not None:
            self._health.enter_graceful_shutdown()
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        if self._retention is not None:
            self._retention.stop()
            self._retention = None
        if self._repo is not None:
            self._repo.close()
            self._repo = None
        log.info("store stopped")
