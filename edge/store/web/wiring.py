"""How the store's composition root starts and stops the web port.

``start_web`` takes the very service objects the gRPC servicers were built with (so
the page has the same roles, the same audit log and the same face model in memory),
adds the analytics and dispatch parts that only the page uses, builds the ASGI app
(edge/store/web/asgi.py) and starts serving it (edge/store/web/server.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp

from edge.store.admin_service import AdminService
from edge.store.analytics import SqlAnalytics
from edge.store.api.app import build_api
from edge.store.audit import Auditor
from edge.store.blobs import BlobStore
from edge.store.config import WebConfig
from edge.store.dispatch import DispatchService
from edge.store.platform import Platform
from edge.store.repository import Repository
from edge.store.review_service import ReviewService
from edge.store.sql import Database
from edge.store.watchlist_service import WatchlistService
from edge.store.web import (
    pages_admin,
    pages_analytics,
    pages_auth,
    pages_dispatch,
    pages_event,
    pages_platform,
    pages_search,
)
from edge.store.web.app import Pages
from edge.store.web.app import Route as PageRoute
from edge.store.web.asgi import Extra, RequestObserver, build_asgi
from edge.store.web.server import WebServer
from edge.store.web.services import Deps, WebServices
from edge.store.web.sessions import LoginGuard, SessionStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunningWeb:
    server: WebServer
    dispatch: DispatchService | None

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        """Stop taking requests first, then the dispatch worker."""
        self.server.stop()
        if self.dispatch is not None:
            self.dispatch.stop()


def page_routes(config: WebConfig, services: WebServices) -> tuple[Pages, list[PageRoute]]:
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
    return Pages(deps), routes


def start_web(
    config: WebConfig,
    db: Database,
    repo: Repository,
    blobs: BlobStore,
    auditor: Auditor,
    review: ReviewService,
    watchlist: WatchlistService,
    admin: AdminService,
    clock: Callable[[], int],
    metrics_app: ASGIApp | None = None,
    observers: tuple[RequestObserver, ...] = (),
    platform: Platform | None = None,
) -> RunningWeb | None:
    """Start the page (and its dispatch worker, if configured); None when disabled."""
    if not config.enabled:
        log.info("web page disabled by config")
        return None
    holder: list[WebServer] = []
    dispatch = None
    if config.dispatch is not None:
        dispatch = DispatchService(
            config.dispatch,
            db,
            repo,
            review,
            blobs,
            auditor,
            clock,
            lambda: holder[0].public_url,
            link_ttl_s=config.api_link_ttl_s,
        )
        dispatch.start()  # fails fast on an unreadable or short HMAC key
    services = WebServices(
        repo=repo,
        review=review,
        watchlist=watchlist,
        admin=admin,
        auditor=auditor,
        blobs=blobs,
        analytics=SqlAnalytics(db),
        dispatch=dispatch,
        clock=clock,
        platform=platform,
    )
    pages, routes = page_routes(config, services)
    extra = Extra(api=build_api(services), metrics=metrics_app, observers=observers)
    server = WebServer(config, build_asgi(config, pages, routes, extra))
    holder.append(server)
    try:
        server.start()
    except BaseException:
        if dispatch is not None:
            dispatch.stop()
        raise
    return RunningWeb(server, dispatch)
