"""Prometheus metrics of the store (prometheus-client), served at /metrics of the web port.

One ``CollectorRegistry`` per store, never the process-global one, so two stores in
one process (tests, tools) never share or clash. Counters and histograms are fed by
small observer hooks the composition root passes in: the ingest service (acks and
group commits), the gRPC interceptor (calls by method and code) and the web port's
access log (requests by route template). Gauges of state (gateways, stored events,
retention and dispatch queues) are read from the database at scrape time, on a worker
thread, and so is the GA/T 1400 link (edge/store/viid_push.py): its state in this
process and its durable push queue. Labels hold gateway ids, route templates, method
names, codes and states only: never plates, subjects, event ids, user names, paths,
query strings, platform addresses or device IDs.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import anyio
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.api.types import PlatformLink
from edge.store.auth import METHOD_ACCESS
from edge.store.config import MetricsConfig, Retention
from edge.store.repository import Repository

if TYPE_CHECKING:
    from edge.store.ingest import Ack

log = logging.getLogger(__name__)

US = 1_000_000
DAY_US = 86_400 * US
#: a gateway heard from (heartbeat or delivery) this recently counts as connected
CONNECTED_WINDOW_S = 60
#: the retention gauge counts due events up to this many (one bounded query)
RETENTION_COUNT_CAP = 10_000
#: states of the GA/T 1400 link that mean "the platform takes our pushes"
VIID_UP_STATES = frozenset({"registered"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


def _method_label(method: str) -> str:
    """A gRPC method name, or "other" for names outside the access table (bounded)."""
    return method if method in METHOD_ACCESS else "other"


class StoreMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._state: _StateCollector | None = None
        r = self.registry
        self._ingested = Counter(
            "edgewatch_events_ingested", "Delivered events by ack status",
            ["gateway", "status", "integrity"], registry=r,
        )  # fmt: skip
        self._problems = Counter(
            "edgewatch_chain_problems", "Events whose chain or signature check found a problem",
            ["gateway", "integrity"], registry=r,
        )  # fmt: skip
        self._commit = Histogram(
            "edgewatch_ingest_commit_seconds", "Time of one group commit (rows + images)",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self._commit_events = Histogram(
            "edgewatch_ingest_commit_events", "Events per group commit",
            buckets=_BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self._http = Counter(
            "edgewatch_http_requests", "Requests of the web port by route template",
            ["interface", "route", "method", "status"], registry=r,
        )  # fmt: skip
        self._http_seconds = Histogram(
            "edgewatch_http_request_seconds", "Duration of web port requests",
            ["interface", "route"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self._grpc = Counter(
            "edgewatch_grpc_requests", "gRPC calls by method and status code",
            ["method", "code"], registry=r,
        )  # fmt: skip
        self._grpc_seconds = Histogram(
            "edgewatch_grpc_request_seconds", "Duration of gRPC calls (streams: until they end)",
            ["method"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip

    # --- hooks (called by the ingest service, the interceptor, the web port) ---------

    def acked(self, gateway_id: str, ack: Ack) -> None:
        integrity = ack.integrity or "none"
        self._ingested.labels(gateway_id, ack.status, integrity).inc()
        if ack.status != "duplicate" and ack.integrity not in (None, "ok"):
            self._problems.labels(gateway_id, integrity).inc()

    def committed(self, events: int, seconds: float) -> None:
        self._commit.observe(seconds)
        self._commit_events.observe(events)

    def http_request(
        self, interface: str, route: str, method: str, status: int, seconds: float
    ) -> None:
        method = method if method in _HTTP_METHODS else "other"  # clients invent methods
        self._http.labels(interface, route, method, str(status)).inc()
        self._http_seconds.labels(interface, route).observe(seconds)

    def grpc_request(self, method: str, code: str, seconds: float) -> None:
        label = _method_label(method)
        self._grpc.labels(label, code).inc()
        self._grpc_seconds.labels(label).observe(seconds)

    # --- state read at scrape time ------------------------------------------------------

    def watch_state(
        self,
        repo: Repository,
        retention: Retention,
        clock: Callable[[], int],
        dispatch_counts: Callable[[], dict[str, int]] | None,
        viid_link: Callable[[], PlatformLink] | None = None,
    ) -> None:
        """State gauges from ``repo`` (and the dispatch queue and the GA/T 1400 link,
        when the store has them), read at each scrape."""
        if self._state is not None:  # a restarted store reads its new repository
            self.registry.unregister(self._state)
        self._state = _StateCollector(repo, retention, clock, dispatch_counts, viid_link)
        self.registry.register(self._state)

    def asgi_app(self, config: MetricsConfig, host: str) -> ASGIApp | None:
        """/metrics for the web port, or None when it must not be served (see docs/api.md)."""
        if not config.enabled:
            return None
        if config.token_sha256 is None and not _loopback(host):
            log.warning(
                "metrics not served: the web port listens on a non-loopback address; "
                "set web.metrics.token_sha256 to serve /metrics to scrapers with that token",
                extra={"host": host},
            )
            return None
        return _MetricsApp(self.registry, config.token_sha256)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _MetricsApp:
    """The exposition, rendered on a worker thread (the state gauges query the database)."""

    def __init__(self, registry: CollectorRegistry, token_sha256: str | None) -> None:
        self._registry = registry
        self._token_sha256 = token_sha256

    def _allowed(self, request: Request) -> bool:
        if self._token_sha256 is None:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        return hmac.compare_digest(digest, self._token_sha256)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response: Response
        if not self._allowed(request):
            response = PlainTextResponse(
                "metrics need 'Authorization: Bearer TOKEN' (web.metrics.token_sha256)",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            body = await anyio.to_thread.run_sync(generate_latest, self._registry)
            response = Response(body, media_type=CONTENT_TYPE_LATEST)
        await response(scope, receive, send)


class _StateCollector:
    def __init__(
        self,
        repo: Repository,
        retention: Retention,
        clock: Callable[[], int],
        dispatch_counts: Callable[[], dict[str, int]] | None,
        viid_link: Callable[[], PlatformLink] | None,
    ) -> None:
        self._repo = repo
        self._retention = retention
        self._clock = clock
        self._dispatch_counts = dispatch_counts
        self._viid_link = viid_link

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("edgewatch_state_up", "1 when the state gauges could be read")
        try:
            yield from self._state()
            yield from self._viid()
            up.add_metric([], 1)
        except Exception:  # a scrape during a database outage still answers
            log.warning("metrics: store state could not be read", exc_info=True)
            up.add_metric([], 0)
        yield up

    def _state(self) -> Iterator[Metric]:
        now = self._clock()
        gateways = [g for g in self._repo.gateways.list_gateways() if not g.revoked]
        seen = GaugeMetricFamily(
            "edgewatch_gateway_last_seen_timestamp_seconds",
            "Last heartbeat or delivery of a gateway",
            labels=["gateway"],
        )
        problems = GaugeMetricFamily(
            "edgewatch_gateway_problems", "Problems recorded for a gateway", labels=["gateway"]
        )
        connected = 0
        for g in gateways:
            last = max(g.last_seen_us or 0, g.last_heartbeat_us or 0)
            if last:
                seen.add_metric([g.gateway_id], last / US)
                if now - last <= CONNECTED_WINDOW_S * US:
                    connected += 1
            problems.add_metric([g.gateway_id], len(g.problems))
        yield GaugeMetricFamily("edgewatch_gateways", "Registered gateways", value=len(gateways))
        yield GaugeMetricFamily(
            "edgewatch_gateways_connected",
            f"Gateways heard from in the last {CONNECTED_WINDOW_S} s",
            value=connected,
        )
        yield seen
        yield problems
        stored = GaugeMetricFamily(
            "edgewatch_events_stored", "Events in the store", labels=["integrity"]
        )
        for state, n in sorted(self._repo.events.counts().by_integrity.items()):
            stored.add_metric([state], n)
        yield stored
        cut = now - self._retention.unconfirmed_days * DAY_US
        due = len(self._repo.events.expired_event_ids(cut, RETENTION_COUNT_CAP))
        yield GaugeMetricFamily(
            "edgewatch_retention_due_events", "Events past retention awaiting purge", value=due
        )
        if self._dispatch_counts is not None:
            queue = GaugeMetricFamily(
                "edgewatch_dispatches", "Dispatches by state", labels=["state"]
            )
            counts = self._dispatch_counts()
            for state in ("pending", "delivered", "failed"):
                queue.add_metric([state], counts.get(state, 0))
            yield queue

    def _viid(self) -> Iterator[Metric]:
        """The GA/T 1400 push link: up in this process, the queue (shared by every store
        process on the database), attempts by this process."""
        if self._viid_link is None:
            return
        link = self._viid_link()
        yield GaugeMetricFamily(
            "edgewatch_viid_up",
            "1 while this store process is registered at the GA/T 1400 platform",
            value=1 if link.state in VIID_UP_STATES else 0,
        )
        pushes = GaugeMetricFamily(
            "edgewatch_viid_pushes",
            "GA/T 1400 objects in the push queue by state",
            labels=["state"],
        )
        pushes.add_metric(["pending"], link.pending)
        pushes.add_metric(["delivered"], link.delivered)
        pushes.add_metric(["refused"], link.refused)
        yield pushes
        if link.oldest_pending_us:
            yield GaugeMetricFamily(
                "edgewatch_viid_oldest_pending_timestamp_seconds",
                "When the oldest GA/T 1400 push still waiting was queued",
                value=link.oldest_pending_us / US,
            )
        yield CounterMetricFamily(
            "edgewatch_viid_attempts",
            "GA/T 1400 push attempts (objects sent) by this store process",
            value=link.attempts,
        )
