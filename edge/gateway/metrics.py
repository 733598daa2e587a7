"""The gateway's Prometheus endpoint (prometheus-client, its own registry).

Counters that sources and the scheduler already keep (frames received, decoded,
dropped, reconnects ...) are read from the gateway's health at scrape time, so there
is one source of truth for heartbeats, ``edgewatch status`` and /metrics. Only what
has no counter elsewhere is observed here: frame age at analysis and stage timings.
Labels carry configured camera ids, stage names and drop reasons: no personal data.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from edge.errors import ConfigError
from edge.gateway.config import MetricsConfig
from edge.health import CameraHealth

log = logging.getLogger(__name__)

#: frame age at analysis: a live frame older than max_frame_age_s (2 s) is dropped
AGE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _HealthCollector(Collector):
    def __init__(
        self, cameras: Callable[[], Sequence[CameraHealth]], events: Callable[[], int]
    ) -> None:
        self._cameras = cameras
        self._events = events

    def collect(self) -> Iterator[Any]:
        cams = self._cameras()
        per_camera: list[tuple[str, str, Callable[[CameraHealth], float]]] = [
            ("frames_received", "frames that arrived from the camera", _received),
            ("frames_decoded", "frames decoded into pictures", _decoded),
            ("frames_analysed", "frames analysed", _analysed),
            ("decode_errors", "packets or pictures that failed to decode", _errors),
            ("reconnects", "reconnections to the camera", _reconnects),
        ]
        for name, doc, value in per_camera:
            fam = CounterMetricFamily(f"edgewatch_camera_{name}", doc, labels=["camera"])
            for c in cams:
                fam.add_metric([c.camera_id], value(c))
            yield fam
        dropped = CounterMetricFamily(
            "edgewatch_camera_frames_dropped",
            "frames not analysed, by reason (queue_full, too_old, source_overrun)",
            labels=["camera", "reason"],
        )
        for c in cams:
            for reason, n in c.dropped_by_reason:
                dropped.add_metric([c.camera_id, reason], n)
        yield dropped
        up = GaugeMetricFamily(
            "edgewatch_camera_connected", "1 while the camera delivers", labels=["camera"]
        )
        for c in cams:
            up.add_metric([c.camera_id], 1.0 if c.up else 0.0)
        yield up
        yield CounterMetricFamily(
            "edgewatch_events", "match events committed to the outbox", value=self._events()
        )


def _received(c: CameraHealth) -> float:
    return c.frames_received


def _decoded(c: CameraHealth) -> float:
    return c.frames_decoded


def _analysed(c: CameraHealth) -> float:
    return c.frames_analysed


def _errors(c: CameraHealth) -> float:
    return c.decode_errors


def _reconnects(c: CameraHealth) -> float:
    return c.reconnects


class GatewayMetrics:
    """Also the pipelines' StageTimer. ``start`` binds the endpoint when configured."""

    def __init__(
        self,
        config: MetricsConfig | None,
        cameras: Callable[[], Sequence[CameraHealth]],
        events: Callable[[], int],
    ) -> None:
        self._config = config
        self.registry = CollectorRegistry(auto_describe=True)
        self._age = Histogram(
            "edgewatch_camera_frame_age_seconds",
            "age of a frame when its analysis began",
            ["camera"],
            buckets=AGE_BUCKETS,
            registry=self.registry,
        )
        self._stage = Histogram(
            "edgewatch_stage_seconds",
            "time spent in one pipeline stage for one frame",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_HealthCollector(cameras, events))
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._config is None:
            return
        host, port = self._config.listen.rsplit(":", 1)
        host = host.strip("[]")
        try:
            self._server, self._thread = start_http_server(
                int(port), addr=host, registry=self.registry
            )
        except OSError as e:
            raise ConfigError(
                f"metrics.listen {self._config.listen}: cannot listen there ({e.strerror}); "
                "choose a free port or set metrics: null"
            ) from e
        log.info("metrics endpoint listening", extra={"listen": self._config.listen})

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int | None:
        """The bound port, None when off."""
        return None if self._server is None else int(self._server.server_address[1])

    # -- observations ------------------------------------------------------------

    def record(self, stage: str, seconds: float) -> None:
        self._stage.labels(stage).observe(seconds)

    def frame_age(self, camera_id: str, seconds: float) -> None:
        self._age.labels(camera_id).observe(seconds)
