"""Dispatch: send a confirmed case to the bureau's case system over a signed webhook.

One click on a confirmed event builds the event's evidence package (the same files
``Review.Export`` streams, audited as an export), zips it, keeps the zip in the blob
store (content addressed, so the hash in the payload always names the exact bytes a
receiver can fetch), and records a dispatch row. A worker thread posts the JSON payload
until the receiver answers 2xx, waiting ``backoff_initial_s * 2**(n-1)`` (capped at
``backoff_max_s``) between attempts, at most ``max_attempts`` times. Every attempt is
written to the audit log; the row's state (pending, delivered, failed) is shown on the
event. The payload bytes are fixed at creation, so every retry sends the same body.

The payload is signed with HMAC-SHA256 (edge/store/dispatch_io.py). Rows are claimed
with a lease, so several store processes on one PostgreSQL database never send the same
attempt twice.

Automatic dispatch (edge/store/dispatch_auto.py) creates the same dispatches for events
a rule matched at ingest (``dispatch_by_rule``: no confirmation needed, the payload
names the rule). When a reviewer rejects a dispatched match, ``withdraw`` cancels a
dispatch not yet sent, and sends the receiver an ``edgewatch.case.withdrawn`` message
(purpose "withdraw") for one that was.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable

from edge.backoff import backoff_delay
from edge.errors import AuthError, NotFoundError, StoreError
from edge.ids import uuid7
from edge.store.audit import Auditor
from edge.store.auth import Principal
from edge.store.blobs import BlobStore
from edge.store.config import DispatchConfig
from edge.store.dispatch_io import (
    SIGNATURE_HEADER,
    UrllibSender,
    WebhookSender,
    load_key,
    sign,
    verify_signature,
    zip_package,
)
from edge.store.dispatch_links import PackageLinks
from edge.store.dispatch_payload import case_payload, withdrawal_payload
from edge.store.dispatch_table import DispatchRecord, DispatchTable
from edge.store.repository import Repository, StoredEvent
from edge.store.review_service import ReviewService
from edge.store.sql import Database

log = logging.getLogger(__name__)


class DispatchService:
    def __init__(
        self,
        config: DispatchConfig,
        db: Database,
        repo: Repository,
        review: ReviewService,
        blobs: BlobStore,
        auditor: Auditor,
        clock: Callable[[], int],
        public_url: str | Callable[[], str],
        sender: WebhookSender | None = None,
        link_ttl_s: int = 7 * 86400,
    ) -> None:
        self._config = config
        self._repo = repo
        self._review = review
        self._blobs = blobs
        self._auditor = auditor
        self._clock = clock
        #: a callable when the page's port is only known once it listens
        self._public_url = public_url
        self._sender: WebhookSender = sender or UrllibSender()
        self._key = b""
        self._links = PackageLinks(db, self._base, link_ttl_s)
        self._table = DispatchTable(db)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def target(self) -> str:
        return self._config.url

    def _base(self) -> str:
        url = self._public_url if isinstance(self._public_url, str) else self._public_url()
        return url.rstrip("/")

    def open(self) -> None:
        """Read the key (fail fast) and create the dispatch table if needed."""
        self._key = load_key(self._config)
        self._table.open()
        self._links.open()

    def start(self) -> None:
        if not self._key:
            self.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dispatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._config.timeout_s + 5)
            self._thread = None

    # --- reviewer side ----------------------------------------------------------------

    def for_event(self, event_id: str) -> list[DispatchRecord]:
        return self._table.for_event(event_id)

    def get(self, dispatch_id: str) -> DispatchRecord:
        return self._table.get(dispatch_id)

    def dispatch(self, who: Principal, event_id: str) -> DispatchRecord:
        """Create a dispatch of a confirmed event; the worker delivers it."""
        stored = self._repo.events.get_event(event_id)
        if stored is None:
            raise NotFoundError(f"no event {event_id!r} in the store")
        if stored.verdict != "confirmed":
            raise StoreError("only confirmed events can be dispatched; confirm it first")
        return self._create(who, who.actor, who.name, stored, None)

    def dispatch_by_rule(self, event_id: str, rule_id: str, rule_name: str) -> DispatchRecord:
        """A dispatch made by an automatic rule at ingest (no confirmation needed)."""
        stored = self._repo.events.get_event(event_id)
        if stored is None:
            raise NotFoundError(f"no event {event_id!r} in the store")
        actor = f"rule:{rule_id}"
        return self._create(actor, actor, rule_name, stored, {"id": rule_id, "name": rule_name})

    def _create(
        self,
        who: Principal | str,
        actor: str,
        by_name: str,
        stored: StoredEvent,
        rule: dict[str, str] | None,
    ) -> DispatchRecord:
        event_id = stored.event.event_id
        busy = [
            d
            for d in self.for_event(event_id)
            if d.purpose == "case" and d.state in ("pending", "delivered")
        ]
        if busy:
            raise StoreError(
                f"event is already dispatched (dispatch {busy[-1].dispatch_id}: {busy[-1].state})"
            )
        files = self._review.export_files(who, [event_id])  # audited as review.export
        package = zip_package(files, f"evidence-{event_id}")
        sha = hashlib.sha256(package).hexdigest()
        self._blobs.put(sha, package)
        dispatch_id, now = uuid7(), self._clock()
        body = self._payload(stored, by_name, dispatch_id, sha, now, rule)
        self._table.insert(dispatch_id, event_id, now, actor, sha, body, "case")
        detail = {"event_id": event_id, "dispatch_id": dispatch_id, "package_sha256": sha}
        self._auditor.record(who, "dispatch.create", {**detail, **({"rule": rule} if rule else {})})
        self._wake.set()
        return self.get(dispatch_id)

    def withdraw(self, who: Principal, event_id: str, note: str) -> list[str]:
        """The match was rejected: cancel unsent case dispatches, tell the receiver of sent
        ones. Returns what was done, one line per dispatch."""
        done = []
        now = self._clock()
        for d in self.for_event(event_id):
            if d.purpose != "case" or d.state == "failed":
                continue
            if d.state == "pending" and self._table.cancel(d.dispatch_id, now):
                done.append(f"{d.dispatch_id}: cancelled before delivery")
                continue
            wid = uuid7()
            body = withdrawal_payload(wid, d.dispatch_id, event_id, note, who.name, now)
            self._table.insert(wid, event_id, now, who.actor, d.package_sha256, body, "withdraw")
            done.append(f"{d.dispatch_id}: withdrawal {wid} queued")
        if done:
            self._auditor.record(who, "dispatch.withdraw", {"event_id": event_id, "done": done})
            self._wake.set()
        return done

    def package(
        self, who: Principal | str, dispatch_id: str, via: str = "session"
    ) -> tuple[DispatchRecord, bytes]:
        record = self.get(dispatch_id)
        data = self._blobs.get(record.package_sha256)
        self._auditor.record(
            who,
            "dispatch.package",
            {"event_id": record.event_id, "dispatch_id": dispatch_id, "via": via},
        )
        return record, data

    def package_by_link(
        self, dispatch_id: str, expires_s: int, signature: str, client: str
    ) -> tuple[DispatchRecord, bytes]:
        """The package a signed link names; AuthError when the link is bad or expired."""
        try:
            event_id: str | None = self.get(dispatch_id).event_id
        except NotFoundError:
            event_id = None
        now_s = self._clock() // 1_000_000
        why = self._links.refusal(dispatch_id, event_id, expires_s, signature, now_s)
        if why is not None:
            log.info("package link refused", extra={"reason": why})
            raise AuthError(why)
        return self.package(f"link:{client}", dispatch_id, via="signed link")

    def queue_counts(self) -> dict[str, int]:
        """Dispatches by state (pending ones are the send queue)."""
        return self._table.counts()

    def _payload(
        self,
        stored: StoredEvent,
        by_name: str,
        dispatch_id: str,
        sha: str,
        now: int,
        rule: dict[str, str] | None,
    ) -> str:
        labels = {}
        for sid in stored.subject_ids:
            subject = self._repo.watchlist.get_subject(sid)
            labels[sid] = subject.label if subject else None
        package_url = self._links.url(dispatch_id, stored.event.event_id, now)
        return case_payload(
            stored, labels, self._base(), package_url, by_name, dispatch_id, sha, now, rule
        )

    # --- worker side ------------------------------------------------------------------

    def run_due(self) -> int:
        """Attempt every due dispatch once; returns how many attempts were made."""
        due = self._table.claim(self._clock())
        for c in due:
            self._attempt(c.dispatch_id, c.event_id, c.payload.encode("utf-8"), c.attempts + 1)
        return len(due)

    def _send(self, dispatch_id: str, body: bytes, attempt: int) -> tuple[bool, str]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "EdgeWatch-dispatch/1",
            "Idempotency-Key": dispatch_id,
            "X-EdgeWatch-Dispatch": dispatch_id,
            "X-EdgeWatch-Attempt": str(attempt),
            SIGNATURE_HEADER: sign(self._key, self._clock() // 1_000_000, body),
        }
        try:
            status = self._sender.post(self._config.url, body, headers, self._config.timeout_s)
        except TimeoutError:
            return False, "timed out"
        except OSError as e:
            return False, f"no answer ({type(e).__name__})"
        return 200 <= status < 300, f"HTTP {status}"

    def _attempt(self, dispatch_id: str, event_id: str, body: bytes, attempt: int) -> None:
        ok, status = self._send(dispatch_id, body, attempt)
        now = self._clock()
        cfg = self._config
        if ok:
            state, next_us = "delivered", now
        elif attempt >= cfg.max_attempts:
            state, next_us = "failed", now
        else:
            # no jitter: each row's schedule already starts at its own creation time
            wait_s = backoff_delay(attempt - 1, cfg.backoff_initial_s, cfg.backoff_max_s, 0.0)
            next_us = now + int(wait_s * 1_000_000)
            state = "pending"
        # audit first: a crash in between re-sends (receivers dedupe on the dispatch id)
        # rather than leaving a state change that no audit entry explains
        self._auditor.record(
            "system:dispatch",
            "dispatch.attempt",
            {
                "event_id": event_id,
                "dispatch_id": dispatch_id,
                "attempt": attempt,
                "status": status,
                "state": state,
                **({"next_attempt_us": next_us} if state == "pending" else {}),
            },
        )
        self._table.finish(dispatch_id, attempt, state, next_us, status, now if ok else None)
        log.info(
            "dispatch attempt",
            extra={
                "dispatch_id": dispatch_id,
                "attempt": attempt,
                "result": status,
                "state": state,
            },
        )

    def _next_wait_s(self) -> float:
        due_us = self._table.next_due_us()
        if due_us is None:
            return 5.0
        return max(0.01, min(5.0, (due_us - self._clock()) / 1e6))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.run_due() and not self._stop.is_set():
                    pass
                wait = self._next_wait_s()
            except Exception:  # a database hiccup must not end dispatching; retry soon
                log.exception("dispatch worker step failed")
                wait = 5.0
            self._wake.wait(wait)
            self._wake.clear()


__all__ = [
    "DispatchRecord",
    "DispatchService",
    "WebhookSender",
    "sign",
    "verify_signature",
    "zip_package",
]
