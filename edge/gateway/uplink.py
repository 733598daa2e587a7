"""Uplink: delivers the outbox to the store over mutual TLS, syncs the watchlist and
sends heartbeats.

At-least-once on the wire: every pending event is (re)sent after each reconnect and
deleted from the outbox only when the store acks it, which it does only after commit.
The store dedupes by event id, so the result is exactly once in the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc

from edge.backoff import Backoff
from edge.errors import ConfigError, ModelMismatchError, WatchlistError
from edge.gateway.config import GatewayConfig, UplinkConfig
from edge.gateway.local_watchlist import LocalWatchlist
from edge.gateway.outbox import Outbox
from edge.health import GatewayHealth
from edge.tlscheck import TlsFiles, TlsVerdict, check_tls
from edge.watchlist.delta import apply_changes
from edge.wire.mapping import check_face_model, health_to_proto, snapshot_from_proto
from edge.wire.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc, watchlist_pb2, watchlist_pb2_grpc
from edge.wire.watchlist_mapping import changes_from_proto

log = logging.getLogger(__name__)

#: the store's refusal of the gateway itself; retrying cannot help
_FATAL = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
_RPC_TIMEOUT_S = 30.0
#: what gRPC ("Received/Sent message larger than max") and the store ("accepts at most
#: N per request") say when a request is too large; other RESOURCE_EXHAUSTED (a quota
#: of a proxy, say) is only retried
_TOO_LARGE = ("larger than max", "accepts at most")
#: a failed connection is explained by a TLS check (edge/tlscheck.py) at most this often
_CHECK_EVERY_S = 10.0


@dataclass
class UplinkStats:
    delivered: int = 0
    duplicates: int = 0
    reconnects: int = 0
    connected: bool = False
    last_error: str = ""
    snapshot_syncs: int = 0
    delta_syncs: int = 0


def channel_credentials(config: GatewayConfig) -> grpc.ChannelCredentials:
    try:
        ca = config.tls.ca.read_bytes()
        cert = config.tls.cert.read_bytes()
        key = config.tls.key.read_bytes()
    except OSError as e:
        raise ConfigError(f"gateway TLS file cannot be read: {e}") from None
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


class Uplink:
    def __init__(
        self,
        config: GatewayConfig,
        outbox: Outbox,
        watchlist: LocalWatchlist,
        health: Callable[[], GatewayHealth],
        face_model_id: str | None,
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._watchlist = watchlist
        self._health = health
        self._face_model_id = face_model_id
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._channel: grpc.Channel | None = None
        self._threads: list[threading.Thread] = []
        self._call: grpc.Future | None = None
        self.stats = UplinkStats()
        #: why no connection is possible until a person acts: either side refused the
        #: other's certificate, or the store refused this gateway (revoked, unknown);
        #: retrying goes on, and a successful heartbeat clears it
        self.refused: str | None = None
        #: set by the first call the store answered (``gateway run --once`` needs one)
        self.reached = threading.Event()
        self._check_lock = threading.Lock()
        self._last_check: tuple[float, TlsVerdict] | None = None
        #: events the store rejected for good (quarantined in the outbox)
        self.rejected: list[str] = []
        self.synced = threading.Event()
        #: events per request; halved when the store refuses a request as too large
        self.batch_events = config.uplink.batch_events
        #: one event in flight, to find the one event the store refuses as too large
        self._probing = False

    def start(self) -> None:
        limit = self._config.uplink.max_message_bytes
        self._channel = grpc.secure_channel(
            self._config.store,
            channel_credentials(self._config),
            options=[
                ("grpc.max_send_message_length", limit),
                ("grpc.max_receive_message_length", limit),
                ("grpc.keepalive_time_ms", 20_000),
                ("grpc.keepalive_timeout_ms", 10_000),
            ],
        )
        for name, target in (
            ("uplink-deliver", self._deliver_loop),
            ("uplink-control", self._control_loop),
        ):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        call = self._call
        if call is not None:
            call.cancel()
        for t in self._threads:
            t.join(timeout=10)
        if self._channel is not None:
            self._channel.close()

    def notify(self) -> None:
        """New events are in the outbox: send without waiting for the next poll."""
        self._wake.set()

    # -- delivery ----------------------------------------------------------------

    def _deliver_loop(self) -> None:
        backoff = Backoff(self._config.uplink.backoff_initial_s, self._config.uplink.backoff_max_s)
        while not self._stopping.is_set():
            if self._outbox.stats().pending_events == 0:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                self._deliver_session(backoff)
            except grpc.RpcError as e:
                self._rpc_failed(e, "deliver")
                detail = e.details() or ""
                if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and any(
                    m in detail for m in _TOO_LARGE
                ):
                    self._too_large(detail)
            self.stats.connected = False
            if not self._stopping.is_set():
                self._stopping.wait(backoff.next_delay())

    def _deliver_session(self, backoff: Backoff) -> None:
        """One stream: send pending events within the in-flight window, ack as replies come."""
        assert self._channel is not None
        stub = ingest_pb2_grpc.IngestStub(self._channel)
        window = threading.Semaphore(1 if self._probing else self._config.uplink.max_in_flight)
        done = threading.Event()
        call = stub.Deliver(self._requests(window, done))
        self._call = call
        self.stats.reconnects += 1
        try:
            for reply in call:
                self.reached.set()
                self._on_reply(reply)
                for _ in reply.acks:
                    window.release()
                backoff.reset()
                self.stats.connected = True
                if self._outbox.stats().pending_events == 0:
                    self._probing = False  # whatever was too large is behind us
                    break
        finally:
            done.set()
            call.cancel()
            self._call = None

    def _requests(
        self, window: threading.Semaphore, done: threading.Event
    ) -> Iterator[ingest_pb2.DeliverRequest]:
        def ended() -> bool:
            return done.is_set() or self._stopping.is_set()

        return outbox_requests(
            self._outbox, self._config.uplink, window, ended, self._wake, self.batch_events
        )

    def _too_large(self, detail: str) -> None:
        """The store refused a request as too large (events or bytes per request).

        First smaller requests, down to one event; then one event in flight at a time,
        so that a refusal names exactly the oldest pending event. The store can never
        take that event and holding it would block all later evidence: it is
        quarantined (kept on disk, not resent) and the store records the gap.
        """
        cfg = self._config.uplink
        if self._probing:
            oldest = self._outbox.pending(limit=1)
            if oldest:
                entry = oldest[0]
                self.rejected.append(f"event {entry.event_id} (sequence {entry.sequence})")
                self._outbox.quarantine(entry.event_id, f"too large for the store: {detail}")
            self._probing, self.batch_events = False, cfg.batch_events
        elif self.batch_events > 1:
            self.batch_events = max(1, self.batch_events // 2)
        else:
            self._probing = True
        log.warning(
            "store refused a request as too large; sending smaller requests",
            extra={"batch_events": self.batch_events, "probing": self._probing},
        )

    def _on_reply(self, reply: ingest_pb2.DeliverReply) -> None:
        delivered = (ingest_pb2.ACK_STATUS_STORED, ingest_pb2.ACK_STATUS_DUPLICATE)
        done = [a.event_id for a in reply.acks if a.status in delivered]
        self._outbox.ack_many(done)
        self.stats.delivered += len(done)
        self.stats.duplicates += sum(
            a.status == ingest_pb2.ACK_STATUS_DUPLICATE for a in reply.acks
        )
        for ack in reply.acks:
            if ack.status in delivered:
                continue
            # Rejected for good (bad signature, limits...): resending cannot help, and
            # holding it would block every later event. It is quarantined on disk, never
            # dropped silently; the store records the resulting chain gap.
            self.rejected.append(f"event {ack.event_id} (sequence {ack.sequence}): {ack.message}")
            self._outbox.quarantine(ack.event_id, ack.message or "rejected by the store")

    def _rpc_failed(self, e: grpc.RpcError, what: str) -> None:
        code = e.code() if hasattr(e, "code") else None
        detail = (e.details() if hasattr(e, "details") else str(e)) or ""
        if self._stopping.is_set() and code == grpc.StatusCode.CANCELLED:
            return
        reason = detail
        if code in _FATAL:
            self.refused = reason = self._refusal(code, detail)
        elif code == grpc.StatusCode.UNAVAILABLE:
            verdict = self._check_tls()
            if verdict.refused:
                self.refused = verdict.message
            reason = verdict.message or detail
        self.stats.last_error = reason
        if self.refused is not None and reason == self.refused:
            log.error("no connection to the store: %s", reason, extra={"what": what})
        else:
            log.warning(
                "store unreachable; will retry",
                extra={"what": what, "code": code.name if code else None, "reason": reason},
            )

    def _refusal(self, code: grpc.StatusCode, detail: str) -> str:
        """The store's refusal in words; the revocation of this gateway's certificate is
        named as such (the store says "client certificate is revoked")."""
        store = self._config.store
        if "certificate" in detail and "revoked" in detail:
            mine = f"tls.cert {self._config.tls.cert}"
            return (
                f"the store at {store} refused this gateway's certificate ({mine}): it is revoked"
            )
        return f"the store at {store} refused this gateway ({code.name}): {detail}"

    def _check_tls(self) -> TlsVerdict:
        """Why the connection failed (edge/tlscheck.py), re-checked at most every 10 s."""
        with self._check_lock:
            now = time.monotonic()
            if self._last_check is None or now - self._last_check[0] > _CHECK_EVERY_S:
                tls = self._config.tls
                verdict = check_tls(self._config.store, TlsFiles(tls.ca, tls.cert, tls.key))
                self._last_check = (now, verdict)
            return self._last_check[1]

    # -- heartbeats and watchlist ------------------------------------------------

    def _control_loop(self) -> None:
        cfg = self._config.uplink
        backoff = Backoff(cfg.backoff_initial_s, cfg.backoff_max_s)
        next_sync = 0.0
        clock = 0.0
        while not self._stopping.is_set():
            try:
                store_version = self._heartbeat()
                self.reached.set()
                self.refused = None  # accepted again (e.g. a certificate was renewed)
                if clock >= next_sync or store_version > self._watchlist.version:
                    self._sync()
                    next_sync = clock + cfg.watchlist_sync_interval_s
                backoff.reset()
                delay = cfg.heartbeat_interval_s
            except grpc.RpcError as e:
                self._rpc_failed(e, "control")
                delay = backoff.next_delay()
            except ModelMismatchError as e:
                log.error(str(e))
                self.synced.set()
                delay = cfg.heartbeat_interval_s
            self._stopping.wait(delay)
            clock += delay

    def _heartbeat(self) -> int:
        assert self._channel is not None
        stub = ingest_pb2_grpc.IngestStub(self._channel)
        reply = stub.Heartbeat(health_to_proto(self._health()), timeout=_RPC_TIMEOUT_S)
        return int(reply.watchlist_version)

    def _sync(self) -> None:
        """Deltas when a list is held locally, a full snapshot otherwise (or when asked)."""
        assert self._channel is not None
        stub = watchlist_pb2_grpc.WatchlistSyncStub(self._channel)
        model = self._face_model_id or ""
        if self._watchlist.version > 0 and self._sync_deltas(stub, model):
            return
        pb = stub.GetSnapshot(
            watchlist_pb2.GetSnapshotRequest(face_model_id=model), timeout=_RPC_TIMEOUT_S
        )
        snapshot = snapshot_from_proto(pb)
        if snapshot.version != self._watchlist.version or not self.synced.is_set():
            self._watchlist.install(snapshot)
        self.stats.snapshot_syncs += 1
        self.synced.set()
        check_face_model(pb.face_model_status, pb.message)

    def _sync_deltas(self, stub: watchlist_pb2_grpc.WatchlistSyncStub, model: str) -> bool:
        """Bring the local list up to date page by page; False when a snapshot is needed."""
        while True:
            reply = stub.GetDeltas(
                watchlist_pb2.GetDeltasRequest(
                    since_version=self._watchlist.version, face_model_id=model
                ),
                timeout=_RPC_TIMEOUT_S,
            )
            if reply.snapshot_required:
                return False
            if not reply.changes:
                if reply.version != self._watchlist.version:
                    return False  # versions moved without changes we can apply
                self.synced.set()
                check_face_model(reply.face_model_status, reply.message)
                return True
            try:
                self._apply(reply)
            except WatchlistError as e:
                log.warning(
                    "watchlist deltas not applicable; fetching a snapshot", extra={"why": str(e)}
                )
                return False

    def _apply(self, reply: watchlist_pb2.GetDeltasReply) -> None:
        changes = changes_from_proto(reply)
        current = self._watchlist.snapshot()
        model = reply.face_model_id or None
        updated = apply_changes(current, changes, reply.version, model)
        self.stats.delta_syncs += 1  # before install: readers of the new list see it counted
        self._watchlist.install(updated)


def outbox_requests(
    outbox: Outbox,
    cfg: UplinkConfig,
    window: threading.Semaphore,
    ended: Callable[[], bool],
    wake: threading.Event,
    batch_events: int | None = None,
) -> Iterator[ingest_pb2.DeliverRequest]:
    """The outbox's pending events in order, batched into Deliver requests.

    A request holds what is pending (up to ``batch_events`` / ``batch_bytes``) and goes
    out as soon as the in-flight ``window`` (one slot per event, released per ack) is
    full, so batching never holds an event back. Ends when ``ended()`` turns true.
    ``batch_events`` overrides ``cfg.batch_events``.
    """
    most = batch_events or cfg.batch_events
    after = 0
    while not ended():
        entries = outbox.pending(limit=cfg.max_in_flight, after_sequence=after)
        if not entries:
            wake.wait(0.5)
            wake.clear()
            continue
        batch: list[events_pb2.SignedEvent] = []
        size = 0
        for entry in entries:
            got = window.acquire(blocking=False)
            full = len(batch) >= most or size + len(entry.payload) > cfg.batch_bytes
            if batch and (full or not got):
                yield ingest_pb2.DeliverRequest(events=batch)
                batch, size = [], 0
            if not got and not _acquire(window, ended):
                return
            event = events_pb2.SignedEvent()
            event.ParseFromString(entry.payload)
            batch.append(event)
            size += len(entry.payload)
            after = entry.sequence
        if batch:
            yield ingest_pb2.DeliverRequest(events=batch)


def _acquire(window: threading.Semaphore, ended: Callable[[], bool]) -> bool:
    """A slot of the in-flight window; False when delivery ends first."""
    while not window.acquire(timeout=0.5):
        if ended():
            return False
    return True
