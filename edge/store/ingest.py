"""Ingest: verify a delivered event, persist it durably, say what happened.

Order matters for "never lose what was acked": every check runs first (gateway
identity, limits, Ed25519 signature with the gateway's registered key, each blob's
sha256 and size, image headers), then the event joins a group commit: one database
transaction stores the group's events with their chain links and their blobs' bytes
(edge/store/blobs.py), and only once it is committed does the caller get the acks. A
crash anywhere before the commit loses nothing the gateway believes delivered; it
resends, and the event id makes the resend idempotent.

Speed: the checks of an event run on the thread that reads its stream, while the
previous group is being committed; the group commit (edge/store/group_commit.py)
gathers the events of every stream, so one durable commit serves them all. The
canonical bytes are encoded once per event (signature, hash, stored row).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.api.types import Ack as Ack
from edge.api.types import AckStatus as AckStatus
from edge.api.types import HeartbeatResult as HeartbeatResult
from edge.evidence.model import MatchEvent, canonical_bytes
from edge.evidence.signing import SIGNATURE_SIZE, public_key_fingerprint
from edge.health import GatewayHealth
from edge.store.config import Limits
from edge.store.flow import Budget
from edge.store.group_commit import GroupCommit, Ticket
from edge.store.image_header import image_header
from edge.store.linking import classify_link
from edge.store.repository import ChainClassifier, NewEvent, Repository, StoredBlob

log = logging.getLogger(__name__)

#: one delivered event: (event, signature, blob bytes by name)
Delivery = tuple[MatchEvent, bytes, Mapping[str, bytes]]
_IMAGE_FORMATS = frozenset({"JPEG", "PNG"})
#: most events per group commit
GROUP = 256
#: most events, and bytes of evidence, of one Deliver stream read ahead of their acks
#: (backpressure on the sender; bounds the store's memory per stream)
IN_FLIGHT = 512
IN_FLIGHT_BYTES = 64 << 20
#: how long a gateway's public key is used without asking the repository again
KEY_TTL_S = 1.0


@dataclass(frozen=True, slots=True)
class _Checked:
    """An event that passed every check, waiting for its group commit."""

    event: MatchEvent
    canonical: bytes
    event_hash: str
    signature: bytes
    contents: Mapping[str, bytes]


class _RejectedError(Exception):
    def __init__(self, message: str, integrity: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.integrity = integrity


class Receipt:
    """The answer to one delivered event: ``ack()`` returns once it is durable."""

    __slots__ = ("_ack", "_group", "_ticket")

    def __init__(
        self,
        ack: Ack | None = None,
        group: GroupCommit[_Checked, Ack] | None = None,
        ticket: Ticket[_Checked, Ack] | None = None,
    ) -> None:
        self._ack = ack
        self._group = group
        self._ticket = ticket

    def ack(self) -> Ack:
        if self._ack is None:
            assert self._group is not None and self._ticket is not None
            self._ack = self._group.wait(self._ticket)
        return self._ack


def now_us() -> int:
    return time.time_ns() // 1000


class IngestObserver(Protocol):
    """Told of every ack and every group commit (the store's metrics)."""

    def acked(self, gateway_id: str, ack: Ack) -> None: ...

    def committed(self, events: int, seconds: float) -> None: ...


class IngestService:
    def __init__(
        self,
        repo: Repository,
        limits: Limits,
        clock: Callable[[], int] = now_us,
        observer: IngestObserver | None = None,
        on_stored: Callable[[Sequence[MatchEvent]], None] | None = None,
    ) -> None:
        self._observer = observer
        self._repo = repo
        #: after each commit, before the acks: automatic dispatch rules, push: all. It
        #: sees re-delivered events too, so a crash before it ran is made up for by the
        #: gateway's resend; if it raises, the gateway gets no acks and resends.
        self._on_stored = on_stored
        self._limits = limits
        self._clock = clock
        self._group: GroupCommit[_Checked, Ack] = GroupCommit(self._persist, GROUP)
        #: gateway id -> (monotonic time fetched, key)
        self._keys: dict[str, tuple[float, Ed25519PublicKey]] = {}

    def deliver(
        self, gateway_id: str, event: MatchEvent, signature: bytes, contents: Mapping[str, bytes]
    ) -> Ack:
        """Verify and store one event delivered by the authenticated ``gateway_id``."""
        return self.submit(gateway_id, event, signature, contents).ack()

    def deliver_many(self, gateway_id: str, items: Sequence[Delivery]) -> list[Ack]:
        """Verify each event, then store all good ones together (group commit)."""
        receipts = [self.submit(gateway_id, *item) for item in items]
        return [r.ack() for r in receipts]

    def submit(
        self, gateway_id: str, event: MatchEvent, signature: bytes, contents: Mapping[str, bytes]
    ) -> Receipt:
        """Check the event now; queue it for the next group commit if it passed."""
        try:
            checked = self._check(gateway_id, event, signature, contents)
        except _RejectedError as r:
            return Receipt(ack=self._rejected(event, r))
        return Receipt(group=self._group, ticket=self._group.submit(checked))

    def deliver_stream(
        self,
        gateway_id: str,
        batches: Iterable[Sequence[Delivery | Ack]],
        in_flight: int = IN_FLIGHT,
        in_flight_bytes: int = IN_FLIGHT_BYTES,
    ) -> Iterator[list[Ack]]:
        """One list of acks per batch, in order (an ``Ack`` item is passed through).

        A reader thread checks each batch as it arrives and queues its events for the
        group commit, so the checks of the next batch overlap the commit of earlier
        ones; at most ``in_flight`` events (``in_flight_bytes`` of evidence) wait for
        their acks, which holds back the sender (a larger batch still goes alone).
        An exception of ``batches`` is raised after the acks of the batches before it.
        """
        waiting: queue.Queue[_Pending | Exception | None] = queue.Queue()
        budget = Budget(in_flight, in_flight_bytes)

        def read() -> None:
            try:
                for batch in batches:
                    size = sum(
                        len(b) for i in batch if not isinstance(i, Ack) for b in i[2].values()
                    )
                    budget.take(len(batch), size)
                    receipts = [
                        Receipt(ack=i) if isinstance(i, Ack) else self.submit(gateway_id, *i)
                        for i in batch
                    ]
                    waiting.put(_Pending(receipts, size))
            except Exception as e:  # a client cancel, an abort, a malformed stream
                waiting.put(e)
            finally:
                waiting.put(None)

        threading.Thread(target=read, name="deliver-reader", daemon=True).start()
        finished = False
        try:
            while (got := waiting.get()) is not None:
                if isinstance(got, Exception):
                    raise got
                try:
                    acks = [r.ack() for r in got.receipts]
                finally:
                    budget.give(len(got.receipts), got.size)
                yield acks
            finished = True
        finally:
            if not finished:  # the caller went away: settle what was already queued
                _drain(waiting, budget)

    def _check(
        self, gateway_id: str, event: MatchEvent, signature: bytes, contents: Mapping[str, bytes]
    ) -> _Checked:
        self._check_shape(gateway_id, event, contents)
        canonical = canonical_bytes(event)
        self._check_signature(event, canonical, signature)
        self._check_blobs(event, contents)
        digest = hashlib.sha256(canonical).hexdigest()
        return _Checked(event, canonical, digest, signature, contents)

    def _rejected(self, event: MatchEvent, r: _RejectedError) -> Ack:
        log.warning(
            "event rejected",
            extra={"event_id": event.event_id, "gateway": event.gateway_id, "reason": r.message},
        )
        ack = Ack(event.event_id, "rejected", r.integrity, r.message[:500], event.sequence)
        if self._observer is not None:
            self._observer.acked(event.gateway_id, ack)
        return ack

    def _problem(self, event: MatchEvent, integrity: str, message: str) -> _RejectedError:
        self._repo.gateways.add_problem(
            event.gateway_id, f"event {event.event_id} seq {event.sequence}: {message}"
        )
        return _RejectedError(message, integrity)

    def _check_shape(
        self, gateway_id: str, event: MatchEvent, contents: Mapping[str, bytes]
    ) -> None:
        if event.gateway_id != gateway_id:
            raise _RejectedError(
                f"gateway {gateway_id} cannot deliver events of gateway {event.gateway_id}"
            )
        lim = self._limits
        if len(event.blobs) > lim.max_blobs_per_event:
            raise _RejectedError(
                f"event has {len(event.blobs)} blobs; the limit is {lim.max_blobs_per_event}"
            )
        for ref in event.blobs:
            size = len(contents.get(ref.name, b""))
            if max(size, ref.size) > lim.max_blob_bytes:
                raise _RejectedError(
                    f"blob {ref.name!r} is {max(size, ref.size)} bytes; "
                    f"the limit is {lim.max_blob_bytes}"
                )

    def _public_key(self, gateway_id: str, fresh: bool = False) -> Ed25519PublicKey:
        """The registered key; cached for KEY_TTL_S (a re-key is seen within that)."""
        cached = self._keys.get(gateway_id)
        if cached is not None and not fresh and time.monotonic() - cached[0] < KEY_TTL_S:
            return cached[1]
        info = self._repo.gateways.get_gateway(gateway_id)
        if info is None:
            raise _RejectedError(f"gateway {gateway_id} is not registered")
        if cached is not None and cached[1].public_bytes_raw() == info.public_key:
            key = cached[1]
        else:
            key = Ed25519PublicKey.from_public_bytes(info.public_key)
        self._keys[gateway_id] = (time.monotonic(), key)
        return key

    def _check_signature(self, event: MatchEvent, canonical: bytes, signature: bytes) -> None:
        who = f"event {event.event_id} (gateway {event.gateway_id}, sequence {event.sequence})"
        if len(signature) != SIGNATURE_SIZE:
            message = f"signature of {who} is {len(signature)} bytes; an Ed25519 signature is 64"
            raise self._problem(event, "bad_signature", message)
        key = self._public_key(event.gateway_id)
        for attempt in (1, 2):
            try:
                key.verify(signature, canonical)
                return
            except InvalidSignature:
                if attempt == 1:  # the gateway may just have been re-keyed
                    key = self._public_key(event.gateway_id, fresh=True)
        message = (
            f"signature of {who} does not verify with key "
            f"{public_key_fingerprint(key)[:16]}: content or key differs"
        )
        raise self._problem(event, "bad_signature", message)

    def _check_blobs(self, event: MatchEvent, contents: Mapping[str, bytes]) -> None:
        for ref in event.blobs:
            data = contents[ref.name]
            actual = hashlib.sha256(data).hexdigest()
            if actual != ref.sha256 or len(data) != ref.size:
                raise self._problem(
                    event,
                    "bad_blob",
                    f"blob {ref.name!r} is {len(data)} bytes with sha256 {actual[:16]}; "
                    f"the signed event says {ref.size} bytes, {ref.sha256[:16]}",
                )
            fmt, pixels = image_header(data)
            if fmt not in _IMAGE_FORMATS:
                raise _RejectedError(f"blob {ref.name!r} is not a JPEG or PNG image (got {fmt})")
            if pixels > self._limits.max_image_pixels:
                raise _RejectedError(
                    f"blob {ref.name!r} has {pixels} pixels; "
                    f"the limit is {self._limits.max_image_pixels}"
                )

    def _persist(self, group: Sequence[_Checked]) -> list[Ack]:
        """One group commit: the rows and the blob bytes (hashed by _check_blobs a moment
        ago) in one transaction, so a stored row never names a blob that was lost."""
        started = time.perf_counter()
        outcomes = self._repo.events.insert_events(self._rows(group))
        acks = []
        for c, outcome in zip(group, outcomes, strict=True):
            event = c.event
            if outcome.status == "conflict":
                problem = "event id already stored with different content; not replaced"
                acks.append(self._rejected(event, self._problem(event, "fork", problem)))
                continue
            status: AckStatus = "stored" if outcome.status == "inserted" else "duplicate"
            log.debug(
                "event ingested",
                extra={"event_id": event.event_id, "sequence": event.sequence, "status": status},
            )
            ack = Ack(event.event_id, status, outcome.integrity, outcome.note[:500], event.sequence)
            acks.append(ack)
        seconds = time.perf_counter() - started
        if self._on_stored is not None:
            kept = [c.event for c, a in zip(group, acks, strict=True) if a.status != "rejected"]
            if kept:
                self._on_stored(kept)
        if self._observer is not None:  # after on_stored: if it raised, no ack was sent
            for c, a in zip(group, acks, strict=True):
                if a.status != "rejected":  # rejections were counted by _rejected
                    self._observer.acked(c.event.gateway_id, a)
            self._observer.committed(len(group), seconds)
        counts = Counter(f"{a.status}:{a.integrity}" for a in acks)
        gateways = sorted({c.event.gateway_id for c in group})
        log.info("events ingested", extra={"counts": dict(counts), "gateways": gateways})
        return acks

    def _rows(
        self, group: Sequence[_Checked]
    ) -> list[tuple[NewEvent, list[StoredBlob], ChainClassifier]]:
        now = self._clock()
        return [
            (
                NewEvent(
                    c.event,
                    c.canonical,
                    c.event_hash,
                    c.signature,
                    now,
                    tuple((b.sha256, c.contents[b.name]) for b in c.event.blobs),
                ),
                [StoredBlob(b.name, b.role, b.media_type, b.sha256, b.size) for b in c.event.blobs],
                partial(classify_link, c.event),
            )
            for c in group
        ]

    def heartbeat(self, gateway_id: str, health: GatewayHealth) -> HeartbeatResult:
        now = self._clock()
        health_json = json.dumps(dataclasses.asdict(health), separators=(",", ":"))
        self._repo.gateways.record_heartbeat(gateway_id, now, health_json, health.face_model_id)
        info = self._repo.gateways.get_gateway(gateway_id)
        last = info.head.last_sequence if info else 0
        return HeartbeatResult(now, self._repo.watchlist.version(), last)


@dataclass(frozen=True, slots=True)
class _Pending:
    """One delivered batch waiting for its acks, and the evidence bytes it holds."""

    receipts: list[Receipt]
    size: int


def _drain(waiting: queue.Queue[_Pending | Exception | None], budget: Budget) -> None:
    """Settle the receipts of an abandoned stream until its reader has finished."""
    while (got := waiting.get()) is not None:
        if isinstance(got, _Pending):
            for receipt in got.receipts:
                try:
                    receipt.ack()
                except Exception:  # nobody is left to tell; the gateway will resend
                    log.warning("commit of an abandoned stream failed", exc_info=True)
            budget.give(len(got.receipts), got.size)
