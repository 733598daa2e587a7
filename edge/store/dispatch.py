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
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

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
from edge.store.repository import Repository, StoredEvent
from edge.store.review_service import ReviewService
from edge.store.sql import Database, Row

log = logging.getLogger(__name__)

DispatchState = Literal["pending", "delivered", "failed"]
LEASE_US = 120_000_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dispatches ("
    " id TEXT PRIMARY KEY, event_id TEXT NOT NULL, created_at_us BIGINT NOT NULL,"
    " created_by TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_us BIGINT NOT NULL, lease_until_us BIGINT NOT NULL DEFAULT 0,"
    " last_status TEXT NOT NULL DEFAULT '', delivered_at_us BIGINT,"
    " package_sha256 TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_dispatches_event ON dispatches (event_id, created_at_us)",
    "CREATE INDEX IF NOT EXISTS ix_dispatches_due ON dispatches (state, next_attempt_us)",
)
_COLUMNS = (
    "id, event_id, created_at_us, created_by, state, attempts, next_attempt_us,"
    " last_status, delivered_at_us, package_sha256"
)


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    dispatch_id: str
    event_id: str
    created_at_us: int
    created_by: str
    state: str  # DispatchState
    attempts: int
    next_attempt_us: int
    last_status: str  # "HTTP 200", "HTTP 503", "timed out", ...
    delivered_at_us: int | None
    package_sha256: str


def _record(r: Row) -> DispatchRecord:
    return DispatchRecord(
        str(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6]),
        str(r[7]), None if r[8] is None else int(r[8]), str(r[9]),
    )  # fmt: skip


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")


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
        self._db = db
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
        self._db.migrate(list(_SCHEMA))
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
        with self._db.read() as tx:
            rows = tx.rows(
                f"SELECT {_COLUMNS} FROM dispatches WHERE event_id = ? ORDER BY created_at_us",
                (event_id,),
            )
        return [_record(r) for r in rows]

    def get(self, dispatch_id: str) -> DispatchRecord:
        with self._db.read() as tx:
            r = tx.row(f"SELECT {_COLUMNS} FROM dispatches WHERE id = ?", (dispatch_id,))
        if r is None:
            raise NotFoundError(f"no dispatch {dispatch_id!r}")
        return _record(r)

    def dispatch(self, who: Principal, event_id: str) -> DispatchRecord:
        """Create a dispatch of a confirmed event; the worker delivers it."""
        stored = self._repo.events.get_event(event_id)
        if stored is None:
            raise NotFoundError(f"no event {event_id!r} in the store")
        if stored.verdict != "confirmed":
            raise StoreError("only confirmed events can be dispatched; confirm it first")
        busy = [d for d in self.for_event(event_id) if d.state in ("pending", "delivered")]
        if busy:
            raise StoreError(
                f"event is already dispatched (dispatch {busy[-1].dispatch_id}: {busy[-1].state})"
            )
        files = self._review.export_files(who, [event_id])  # audited as review.export
        package = zip_package(files, f"evidence-{event_id}")
        sha = hashlib.sha256(package).hexdigest()
        self._blobs.put(sha, package)
        dispatch_id, now = uuid7(), self._clock()
        body = self._payload(stored, who, dispatch_id, sha, now)
        with self._db.write() as tx:
            tx.run(
                "INSERT INTO dispatches (id, event_id, created_at_us, created_by, state,"
                " next_attempt_us, package_sha256, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (dispatch_id, event_id, now, who.actor, "pending", now, sha, body),
            )
        self._auditor.record(
            who,
            "dispatch.create",
            {"event_id": event_id, "dispatch_id": dispatch_id, "package_sha256": sha},
        )
        self._wake.set()
        return self.get(dispatch_id)

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
        with self._db.read() as tx:
            rows = tx.rows("SELECT state, COUNT(*) FROM dispatches GROUP BY state")
        return {str(r[0]): int(r[1]) for r in rows}

    def _payload(
        self, stored: StoredEvent, who: Principal, dispatch_id: str, sha: str, now: int
    ) -> str:
        e = stored.event
        labels = {}
        for sid in stored.subject_ids:
            subject = self._repo.watchlist.get_subject(sid)
            labels[sid] = subject.label if subject else None
        doc = {
            "type": "edgewatch.case",
            "version": 1,
            "dispatch_id": dispatch_id,
            "event_id": e.event_id,
            "event_hash": stored.event_hash,
            "kind": e.kind,
            "gateway_id": e.gateway_id,
            "camera_id": e.camera_id,
            "captured_at": _iso(e.captured_at_us),
            "captured_at_us": e.captured_at_us,
            "location": {"lat": e.location[0], "lon": e.location[1]} if e.location else None,
            "plates": [
                {
                    "text": p.text,
                    "listed_text": p.listed_text,
                    "match": p.kind,
                    "confidence": round(p.confidence, 4),
                    "color": p.color,
                }
                for p in e.plates
            ],
            "faces": [
                {"subject_id": f.subject_id, "similarity": round(f.similarity, 4)} for f in e.faces
            ],
            "subjects": [{"subject_id": s, "label": lbl} for s, lbl in labels.items()],
            "verdict": {
                "verdict": stored.verdict,
                "note": stored.verdict_note or "",
                "by": stored.verdict_by,
                "at": _iso(stored.verdict_at_us or now),
            },
            "integrity": stored.integrity,
            "evidence_url": f"{self._base()}/events/{e.event_id}",
            "package_url": self._links.url(dispatch_id, e.event_id, now),
            "package_sha256": sha,
            "dispatched_by": who.name,
            "created_at": _iso(now),
        }
        return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    # --- worker side ------------------------------------------------------------------

    def _claim(self, now: int, limit: int = 8) -> list[tuple[str, str, str, int]]:
        claimed = []
        with self._db.write() as tx:
            rows = tx.rows(
                "SELECT id, event_id, payload, attempts FROM dispatches WHERE state = 'pending'"
                " AND next_attempt_us <= ? AND lease_until_us < ?"
                " ORDER BY next_attempt_us LIMIT ?",
                (now, now, limit),
            )
            for r in rows:
                n = tx.run(
                    "UPDATE dispatches SET lease_until_us = ? WHERE id = ? AND lease_until_us < ?",
                    (now + LEASE_US, r[0], now),
                )
                if n == 1:
                    claimed.append((str(r[0]), str(r[1]), str(r[2]), int(r[3])))
        return claimed

    def run_due(self) -> int:
        """Attempt every due dispatch once; returns how many attempts were made."""
        due = self._claim(self._clock())
        for dispatch_id, event_id, payload, attempts in due:
            self._attempt(dispatch_id, event_id, payload.encode("utf-8"), attempts + 1)
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
        with self._db.write() as tx:
            tx.run(
                "UPDATE dispatches SET attempts = ?, state = ?, next_attempt_us = ?,"
                " lease_until_us = 0, last_status = ?, delivered_at_us = ? WHERE id = ?",
                (attempt, state, next_us, status, now if ok else None, dispatch_id),
            )
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
        with self._db.read() as tx:
            r = tx.row("SELECT MIN(next_attempt_us) FROM dispatches WHERE state = 'pending'")
        if r is None or r[0] is None:
            return 5.0
        return max(0.01, min(5.0, (int(r[0]) - self._clock()) / 1e6))

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
