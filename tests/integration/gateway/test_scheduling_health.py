"""A real gateway (real store over mTLS, real model pack) with three cameras, a video
file, a drop folder and a live HTTP MJPEG camera: its /metrics endpoint shows every
camera's counters, and `edgewatch status` prints a line per camera from the gateway's
heartbeats."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from edge.deployment import free_ports

CLIP = "video/pedestrians_arcade_1080p.mp4"


def _samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _wait_for(port: int, proc: subprocess.Popen[bytes], log: Path) -> dict[Any, float]:
    deadline = time.monotonic() + 240
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        try:
            s = _samples(port)
        except httpx.TransportError:
            s = {}
        done = [
            _value(s, "edgewatch_camera_frames_analysed_total", camera=c) >= n
            for c, n in (("cam-1", 2), ("cam-2", 5), ("cam-3", 3))
        ]
        if all(done):
            return s
        time.sleep(0.5)


def test_metrics_and_status_show_every_camera(
    deployment: Any, eval_dir: Path, mjpeg_factory: Callable[..., Any]
) -> None:
    d = deployment
    live = mjpeg_factory(fps=25.0)
    d.start_store()
    drop = d.drop_folder()
    for i, src in enumerate(sorted((eval_dir / "plates" / "toll_hyperlpr").rglob("*.jpg"))[:2]):
        shutil.copy(src, drop / f"shot-{i}.jpg")
    (port,) = free_ports(1)
    cfg = d.gateway_config(
        cameras=[
            {"id": "cam-1", "source": f"folder:{drop}"},
            {"id": "cam-2", "source": f"file:{eval_dir / CLIP}", "fps": 2.0},
            {"id": "cam-3", "source": live.url, "fps": 5.0},
        ],
        scheduler={"workers": 2, "queue_per_camera": 2, "max_frame_age_s": 2.0},
        metrics={"listen": f"127.0.0.1:{port}"},
        uplink={"heartbeat_interval_s": 1.0},
    )
    log = d.root / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "gateway", "run", "--config", str(cfg)],
            stdout=out,
            stderr=out,
            env=d.env,
        )
    try:
        s = _wait_for(port, proc, log)
        time.sleep(2.5)  # a heartbeat carrying these counts reaches the store
        status = d.cli("status", "--config", str(d.root / "admin.yaml")).stdout
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    for cam in ("cam-1", "cam-2", "cam-3"):
        assert _value(s, "edgewatch_camera_frames_decoded_total", camera=cam) >= 2
        assert _value(s, "edgewatch_camera_frames_received_total", camera=cam) >= 2
        assert _value(s, "edgewatch_camera_frame_age_seconds_count", camera=cam) >= 2
        assert (("edgewatch_camera_connected", (("camera", cam),))) in s
        assert (("edgewatch_camera_reconnects_total", (("camera", cam),))) in s
        assert (("edgewatch_camera_decode_errors_total", (("camera", cam),))) in s
    assert _value(s, "edgewatch_stage_seconds_count", stage="face_detect") >= 7
    assert _value(s, "edgewatch_stage_seconds_count", stage="plate_detect") >= 7
    assert ("edgewatch_events_total", ()) in s
    assert _value(s, "edgewatch_camera_connected", camera="cam-3") == 1.0
    # recorded sources are held back, never dropped; a live one may drop, with a reason
    drops = [k for k in s if k[0] == "edgewatch_camera_frames_dropped_total"]
    assert all(dict(labels)["camera"] == "cam-3" for _, labels in drops), drops
    assert {dict(labels)["reason"] for _, labels in drops} <= {
        "queue_full",
        "too_old",
        "source_overrun",
    }
    lines = status.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["camera", "state"])
    rows = {ln.split()[0]: ln.split() for ln in lines[header + 1 : header + 4]}
    assert set(rows) == {"cam-1", "cam-2", "cam-3"}, status
    assert rows["cam-3"][1] == "up", status
    for cam, least in (("cam-1", 2), ("cam-2", 5), ("cam-3", 3)):
        received, decoded, analysed, dropped = (int(v) for v in rows[cam][2:6])
        assert analysed >= least and decoded >= analysed and received >= decoded, status
        assert dropped == 0 or cam == "cam-3", status
