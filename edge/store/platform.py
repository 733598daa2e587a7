"""The store's platform integration, composed: the GA/T 1400 push (edge/store/
viid_push.py), automatic dispatch rules (edge/store/dispatch_auto.py) and the state of
every outside link. The store's composition root builds one ``Platform``, passes its
hooks to ingest, review and admin, opens it before serving, starts it once the web
page (which owns the webhook dispatch worker) runs, and stops it first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import httpx

from edge.api.types import PlatformLink
from edge.evidence.model import MatchEvent
from edge.store.audit import Auditor
from edge.store.auth import Principal
from edge.store.blobs import BlobStore
from edge.store.config import StoreConfig
from edge.store.dispatch import DispatchService
from edge.store.dispatch_auto import AutoDispatch
from edge.store.locations import KeyLocation
from edge.store.repository import Repository, Verdict
from edge.store.sql import Database
from edge.store.viid_push import ViidPush

log = logging.getLogger(__name__)


class Platform:
    def __init__(
        self,
        config: StoreConfig,
        db: Database,
        repo: Repository,
        blobs: BlobStore,
        auditor: Auditor,
        clock: Callable[[], int],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = config
        self._db = db
        self._clock = clock
        self._public_url: Callable[[], str | None] = lambda: None
        self._dispatch: DispatchService | None = None
        self.viid = (
            ViidPush(config.viid, db, repo, blobs, auditor, clock, self._evidence_url, transport)
            if config.viid is not None
            else None
        )
        web = config.web
        self.auto = AutoDispatch(
            config.dispatch_rules,
            config.locations,
            web.utc_offset_minutes,
            db,
            repo,
            auditor,
            clock,
            self.viid,
            has_webhook=web.enabled and web.dispatch is not None,
        )

    @property
    def locations(self) -> tuple[KeyLocation, ...]:
        return tuple(self._config.locations)

    def _evidence_url(self, event_id: str) -> str | None:
        base = self._public_url()
        return f"{base.rstrip('/')}/events/{event_id}" if base else None

    def open(self) -> None:
        """Tables, rules from store.yaml, the platform password (fails fast)."""
        if self.viid is not None:
            self.viid.open()
        self.auto.open()

    def start(self, dispatch: DispatchService | None, public_url: Callable[[], str | None]) -> None:
        self._dispatch = dispatch
        self._public_url = public_url
        if self.viid is not None:
            self.viid.start()
        self.auto.start(dispatch)

    def stop(self) -> None:
        self.auto.stop()
        if self.viid is not None:
            self.viid.stop()

    # --- hooks ------------------------------------------------------------------------

    def on_stored(self, events: Sequence[MatchEvent]) -> None:
        self.auto.on_stored(events)

    def on_verdict(self, who: Principal, event_id: str, verdict: Verdict, note: str) -> None:
        self.auto.on_verdict(who, event_id, verdict, note)

    # --- state ------------------------------------------------------------------------

    def links(self) -> tuple[PlatformLink, ...]:
        out = []
        if self.viid is not None:
            out.append(self.viid.status())
        webhook = self._config.web.dispatch
        if webhook is not None and self._dispatch is not None:
            out.append(self._webhook_link(webhook.url))
        return tuple(out)

    def _webhook_link(self, url: str) -> PlatformLink:
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT state, COUNT(*), MIN(created_at_us), MAX(delivered_at_us)"
                " FROM dispatches GROUP BY state"
            )
        by = {str(r[0]): r for r in rows}
        last_ok = by["delivered"][3] if "delivered" in by else None
        oldest = by["pending"][2] if "pending" in by else None
        return PlatformLink(
            name="webhook",
            target=url.split("?", 1)[0],
            device_id="",
            state="active",
            since_us=0,
            last_ok_us=None if last_ok is None else int(last_ok),
            last_error="",
            pending=int(by["pending"][1]) if "pending" in by else 0,
            delivered=int(by["delivered"][1]) if "delivered" in by else 0,
            refused=int(by["failed"][1]) if "failed" in by else 0,
            oldest_pending_us=None if oldest is None else int(oldest),
            attempts=0,
        )
