"""The gateway's Prometheus registry: names, labels, values from health; a busy port."""

from __future__ import annotations

import socket

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from edge.errors import ConfigError
from edge.gateway.config import MetricsConfig
from edge.gateway.metrics import GatewayMetrics
from edge.health import CameraHealth

CAMS = [
    CameraHealth(
        "cam-1",
        True,
        4.0,
        frames_analysed=40,
        frames_dropped=5,
        frames_received=200,
        frames_decoded=198,
        dropped_by_reason=(("queue_full", 2), ("too_old", 3)),
        decode_errors=2,
        reconnects=1,
    ),
    CameraHealth("cam-2", False, 0.0, 0, 0),
]


def _samples(m: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(m.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_health_and_observations_become_prefixed_metrics() -> None:
    m = GatewayMetrics(None, lambda: CAMS, lambda: 7)
    m.record("face_detect", 0.03)
    m.frame_age("cam-1", 0.4)
    s = _samples(m)
    cam1 = (("camera", "cam-1"),)
    assert s[("edgewatch_camera_frames_received_total", cam1)] == 200
    assert s[("edgewatch_camera_frames_decoded_total", cam1)] == 198
    assert s[("edgewatch_camera_frames_analysed_total", cam1)] == 40
    assert s[("edgewatch_camera_decode_errors_total", cam1)] == 2
    assert s[("edgewatch_camera_reconnects_total", cam1)] == 1
    assert s[("edgewatch_camera_connected", cam1)] == 1
    assert s[("edgewatch_camera_connected", (("camera", "cam-2"),))] == 0
    dropped = {k[1]: v for k, v in s.items() if k[0] == "edgewatch_camera_frames_dropped_total"}
    assert dropped == {
        (("camera", "cam-1"), ("reason", "queue_full")): 2,
        (("camera", "cam-1"), ("reason", "too_old")): 3,
    }
    assert s[("edgewatch_camera_frame_age_seconds_count", cam1)] == 1
    assert s[("edgewatch_camera_frame_age_seconds_bucket", (*cam1, ("le", "0.5")))] == 1
    assert s[("edgewatch_stage_seconds_sum", (("stage", "face_detect"),))] == 0.03
    assert s[("edgewatch_events_total", ())] == 7
    assert all(name.startswith("edgewatch_") for name, _ in s)


def test_a_port_in_use_is_named() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        listen = f"127.0.0.1:{busy.getsockname()[1]}"
        m = GatewayMetrics(MetricsConfig(listen=listen), lambda: [], lambda: 0)
        with pytest.raises(ConfigError, match=f"metrics.listen {listen}: cannot listen there"):
            m.start()
    m.stop()
