"""What the reviewer page is given by the store's composition root, and what it keeps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge.store.admin_service import AdminService
from edge.store.analytics import Analytics
from edge.store.audit import Auditor
from edge.store.blobs import BlobStore
from edge.store.config import WebConfig
from edge.store.dispatch import DispatchService
from edge.store.ingest import now_us
from edge.store.platform import Platform
from edge.store.repository import Repository
from edge.store.review_service import ReviewService
from edge.store.watchlist_service import WatchlistService
from edge.store.web.sessions import LoginGuard, SessionStore


@dataclass(frozen=True, slots=True)
class WebServices:
    """The same service objects the gRPC servicers use (same roles, same audit)."""

    repo: Repository
    review: ReviewService
    watchlist: WatchlistService
    admin: AdminService
    auditor: Auditor
    blobs: BlobStore
    analytics: Analytics
    dispatch: DispatchService | None = None
    clock: Callable[[], int] = now_us
    #: GA/T 1400 pushes, dispatch rules, link state and key locations
    platform: Platform | None = None


@dataclass(frozen=True, slots=True)
class Deps:
    config: WebConfig
    services: WebServices
    sessions: SessionStore
    guard: LoginGuard

    @property
    def clock(self) -> Callable[[], int]:
        return self.services.clock

    @property
    def repo(self) -> Repository:
        return self.services.repo
