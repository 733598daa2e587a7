"""The store's GA/T 1400 client: keeps the link to the platform, drains the push queue.

One worker thread registers (``POST /VIID/System/Register``), sends a keepalive every
``keepalive_interval_s``, registers again when the platform has forgotten us (a 401
or a non-zero StatusCode to a keepalive) and unregisters on shutdown. While registered
it takes due rows of the durable queue (edge/store/viid_queue.py), a batch of one kind
at a time, and posts them; each object's answer in the ResponseStatusListObject
decides its row: delivered, retried with backoff, or refused (the answer says it will
never be accepted as sent). While the platform does not answer, rows are not tried at
all (and not audited one by one): the link is probed with backoff and the queue
simply waits, across restarts and outages of any length.

Audit trail: link changes (``viid.link``), what was queued and why (``viid.enqueue``,
``viid.transfer``, ``viid.withdraw``) and every attempt of every row
(``viid.attempt``). Logs carry ids and status codes only, never plate text or images.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence

import httpx

from edge.api.types import PlatformLink
from edge.backoff import backoff_delay
from edge.errors import NotFoundError, StoreError
from edge.evidence.model import MatchEvent
from edge.store.audit import Auditor
from edge.store.auth import Principal
from edge.store.blobs import BlobStore
from edge.store.repository import Repository
from edge.store.sql import Database
from edge.store.viid_client import CallResult, ViidClient
from edge.store.viid_config import ViidConfig, load_password
from edge.store.viid_payload import HoldError, PayloadBuilder, kinds_of, resource_of
from edge.store.viid_queue import DELETE_PREFIX, Claimed, PushRecord, ViidQueue
from edge.viid.codes import PERMANENT_STATUS
from edge.viid.objects import ResponseStatus

log = logging.getLogger(__name__)

ACTOR = "system:viid"
LEASE_US = 120_000_000
HOLD_US = 60_000_000
#: HTTP answers after which the same request may succeed later
_TRANSIENT_HTTP = frozenset({408, 425, 429})
#: retries wait 90-100 % of the doubling cap (edge/backoff.py), so rows queued together
#: and several store processes on one database do not retry in step
JITTER = 0.1


def outcome_of(result: CallResult, ids: Sequence[str]) -> str:
    """ "ok", "retry" or "refused" for the objects ``ids`` of an answered request."""
    status = result.http_status or 0
    if not 200 <= status < 300:
        return "retry" if status >= 500 or status in _TRANSIENT_HTTP else "refused"
    mine = _statuses_for(result.statuses, ids)
    if not mine:
        return "ok"
    if all(s.ok for s in mine):
        return "ok"
    return "refused" if any(s.status_code in PERMANENT_STATUS for s in mine) else "retry"


def _statuses_for(statuses: Sequence[ResponseStatus], ids: Sequence[str]) -> list[ResponseStatus]:
    if not statuses:
        return []
    by_id = {s.object_id: s for s in statuses if s.object_id}
    if by_id:
        # an object the answer does not mention was not confirmed: try it again
        missing = ResponseStatus(1, "no answer for this object", "")
        return [by_id.get(i, missing) for i in ids]
    return list(statuses)  # answers without ids speak for the whole request


class ViidPush:
    def __init__(
        self,
        config: ViidConfig,
        db: Database,
        repo: Repository,
        blobs: BlobStore,
        auditor: Auditor,
        clock: Callable[[], int],
        evidence_url: Callable[[str], str | None] = lambda _: None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = config
        self._repo = repo
        self._auditor = auditor
        self._clock = clock
        self._queue = ViidQueue(db)
        self._builder = PayloadBuilder(config, repo, blobs, evidence_url)
        self._transport = transport
        self._client: ViidClient | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state, self._since, self._error = "starting", 0, ""
        self._last_ok: int | None = None
        self._link_attempt = 0
        self._next_link_us = 0
        self._next_keepalive_us = 0
        self._attempts = 0

    @property
    def config(self) -> ViidConfig:
        return self._config

    @property
    def queue(self) -> ViidQueue:
        return self._queue

    def open(self) -> None:
        """Read the password (fail fast) and create the queue tables."""
        self._client = ViidClient(self._config, load_password(self._config), self._transport)
        self._queue.open()

    def start(self) -> None:
        if self._client is None:
            self.open()
        assert self._client is not None
        self._client.open()
        self._since = self._clock()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="viid-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._config.timeout_s * 2 + 5)
            self._thread = None
        if self._client is not None:
            if self._state == "registered":
                r = self._client.unregister()
                log.info("viid unregistered", extra={"result": r.describe()})
            self._client.close()
        self._set_state("stopped", "")

    # --- producers --------------------------------------------------------------------

    def confirmed(self, event: MatchEvent, who: str) -> int:
        """A reviewer confirmed: queue the event's pushes, or send them again if it had
        been withdrawn after an earlier rejection."""
        again = self._queue.reopen(event.event_id, self._clock())
        if again:
            self._auditor.record(who, "viid.reopen", {"event_id": event.event_id, "rows": again})
            self._wake.set()
        return again + self.enqueue_events([event], "confirmed", who)

    def enqueue_events(self, events: Sequence[MatchEvent], reason: str, who: str) -> int:
        """Queue every push the events need (one transaction); returns rows added."""
        items = [(e.event_id, kinds_of(e)) for e in events]
        added = self._queue.enqueue_many(items, reason, who, self._clock())
        queued = {eid: kinds for eid, kinds in added.items() if kinds}
        if queued:
            self._auditor.record(who, "viid.enqueue", {"reason": reason, "queued": queued})
            self._wake.set()
        return sum(len(k) for k in queued.values())

    def transfer(self, who: Principal, event_id: str) -> list[PushRecord]:
        """One-click transfer: push a confirmed event now (again, if it was refused)."""
        stored = self._repo.events.get_event(event_id)
        if stored is None:
            raise NotFoundError(f"no event {event_id!r} in the store")
        if stored.verdict != "confirmed":
            raise StoreError("only confirmed events can be transferred; confirm it first")
        kinds = kinds_of(stored.event)
        now = self._clock()
        added = self._queue.enqueue(event_id, kinds, "transfer", who.actor, now)
        again = self._queue.requeue(event_id, kinds, now) + self._queue.reopen(event_id, now)
        self._auditor.record(
            who, "viid.transfer", {"event_id": event_id, "queued": added, "requeued": again}
        )
        self._wake.set()
        return self._queue.for_event(event_id)

    def withdraw(self, who: Principal | str, event_id: str) -> dict[str, list[str]]:
        """A reviewer rejected the match: cancel what was not sent, delete what was."""
        now = self._clock()
        cancelled = self._queue.cancel_unsent(event_id, now)
        deletes: list[str] = []
        if self._config.compat.on_reject == "delete":
            sent = [r for r in self._queue.for_event(event_id) if r.state == "delivered"]
            prepared = {
                DELETE_PREFIX + r.kind: (json.dumps(list(r.object_ids)), r.object_ids)
                for r in sent
                if not r.kind.startswith(DELETE_PREFIX)
            }
            actor = who.actor if isinstance(who, Principal) else who
            deletes = self._queue.enqueue(event_id, list(prepared), "reject", actor, now, prepared)
        detail = {"event_id": event_id, "cancelled": cancelled, "deletes": deletes}
        if cancelled or deletes:
            self._auditor.record(who, "viid.withdraw", detail)
            self._wake.set()
        return {"cancelled": cancelled, "deletes": deletes}

    def for_event(self, event_id: str) -> list[PushRecord]:
        return self._queue.for_event(event_id)

    def status(self) -> PlatformLink:
        q = self._queue.stats()
        with self._lock:
            return PlatformLink(
                "viid", self._config.url, self._config.device_id, self._state, self._since,
                self._last_ok, self._error, q.pending, q.delivered, q.refused,
                q.oldest_pending_us, self._attempts,
            )  # fmt: skip

    # --- the link ---------------------------------------------------------------------

    def _set_state(self, state: str, error: str) -> None:
        with self._lock:
            changed = state != self._state
            self._state, self._error = state, error[:300]
            if changed:
                self._since = self._clock()
        if changed and state != "stopped":
            detail = {"state": state, "url": self._config.url, "error": error[:300]}
            self._auditor.record(ACTOR, "viid.link", detail)
            log.info("viid link", extra={"state": state, "error": error[:300]})

    def _link_failed(self, result: CallResult, state: str) -> None:
        self._link_attempt += 1
        cfg = self._config
        wait = backoff_delay(
            self._link_attempt - 1, cfg.backoff_initial_s, cfg.backoff_max_s, JITTER
        )
        self._next_link_us = self._clock() + int(wait * 1e6)
        self._set_state(state, result.describe())

    def _register(self) -> None:
        assert self._client is not None
        r = self._client.register()
        if r.ok:
            self._link_attempt = 0
            now = self._clock()
            self._last_ok, self._next_keepalive_us = now, now + self._keepalive_us()
            self._set_state("registered", "")
        else:
            self._link_failed(r, "failing" if not r.answered else "unregistered")

    def _keepalive_us(self) -> int:
        return int(self._config.keepalive_interval_s * 1e6)

    def _keepalive(self) -> None:
        assert self._client is not None
        r = self._client.keepalive()
        now = self._clock()
        if r.ok:
            self._last_ok, self._next_keepalive_us = now, now + self._keepalive_us()
        elif r.answered:  # the platform forgot us (restart, expiry): register again now
            self._next_link_us = now
            self._set_state("unregistered", r.describe())
        else:
            self._link_failed(r, "failing")

    # --- the worker -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self._step()
            except Exception:  # a database hiccup must not end pushing; retry soon
                log.exception("viid worker step failed")
                wait = 5.0
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()

    def _step(self) -> float:
        now = self._clock()
        if self._state != "registered":
            if now < self._next_link_us:
                return (self._next_link_us - now) / 1e6
            self._register()
            if self._state != "registered":
                return max(0.01, (self._next_link_us - self._clock()) / 1e6)
        if self._clock() >= self._next_keepalive_us:
            self._keepalive()
            if self._state != "registered":
                return 0.0
        if self._push_due():
            return 0.0
        due = self._queue.next_due_us()
        until = min(self._next_keepalive_us, due if due is not None else self._next_keepalive_us)
        return max(0.01, min(5.0, (until - self._clock()) / 1e6))

    def _prepare(self, row: Claimed) -> tuple[list[dict[str, object]], list[str]] | None:
        """The row's objects and ids (built once and stored); None when it cannot go."""
        if row.payload is not None:
            rec = self._queue.get(row.push_id)
            ids = list(rec.object_ids) if rec else []
            return ([] if row.kind.startswith(DELETE_PREFIX) else json.loads(row.payload)), ids
        now = self._clock()
        try:
            built = self._builder.build(row.event_id, row.kind)
        except HoldError as e:
            self._queue.finish(row.push_id, "pending", row.attempts, now + HOLD_US, str(e), now)
            return None
        except (NotFoundError, ValueError) as e:
            self._record(row, "refused", f"cannot build: {e}", now)
            return None
        self._queue.set_payload(row.push_id, json.dumps(built.objects), built.object_ids)
        return built.objects, built.object_ids

    def _push_due(self) -> bool:
        """Send one batch of due rows; False when nothing was due."""
        rows = self._queue.claim(self._clock(), self._config.batch, LEASE_US)
        if not rows:
            return False
        ready: list[tuple[Claimed, list[str]]] = []
        objects: list[dict[str, object]] = []
        for row in rows:
            got = self._prepare(row)
            if got is not None:
                objects.extend(got[0])
                ready.append((row, got[1]))
        if ready:
            self._send(rows[0].kind, ready, objects)
        return True

    def _send(
        self, kind: str, ready: list[tuple[Claimed, list[str]]], objects: list[dict[str, object]]
    ) -> None:
        assert self._client is not None
        resource = resource_of(kind)
        if kind.startswith(DELETE_PREFIX):
            ids = [i for _, row_ids in ready for i in row_ids]
            result = self._client.delete(resource, ids)
        else:
            result = self._client.post(resource, self._builder.body(kind, objects))
        now = self._clock()
        if not result.answered or result.http_status == 401:
            # the link, not the rows, failed: give them back untried
            self._queue.release([row.push_id for row, _ in ready], now)
            if result.answered:
                self._next_link_us = now
                self._set_state("unregistered", result.describe())
            else:
                self._link_failed(result, "failing")
            return
        self._last_ok = now
        for row, ids in ready:
            self._record(row, outcome_of(result, ids), result.describe(), now)

    def _record(self, row: Claimed, outcome: str, status: str, now: int) -> None:
        attempt = row.attempts + 1
        self._attempts += 1
        cfg = self._config
        if outcome == "ok":
            state, next_us = "delivered", now
        elif outcome == "refused":
            state, next_us = "refused", now
        else:
            wait = backoff_delay(attempt - 1, cfg.backoff_initial_s, cfg.backoff_max_s, JITTER)
            state, next_us = "pending", now + int(wait * 1e6)
        # audit first: a crash in between re-sends the same IDs, which a platform
        # keys objects by, rather than leave a state no audit entry explains
        self._auditor.record(
            ACTOR,
            "viid.attempt",
            {"event_id": row.event_id, "push_id": row.push_id, "kind": row.kind,
             "attempt": attempt, "status": status, "state": state},
        )  # fmt: skip
        self._queue.finish(row.push_id, state, attempt, next_us, status, now)
        log.info(
            "viid push attempt",
            extra={"push_id": row.push_id, "kind": row.kind, "result": status, "state": state},
        )
