"""Live sources against a real MJPEG HTTP camera on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.gateway.sources import FrameSource, SourceSettings, open_source

FAST = SourceSettings(
    reconnect_initial_s=0.1,
    reconnect_max_s=0.5,
    open_timeout_s=2.0,
    stall_timeout_s=1.0,
)


def _wait(cond: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _read_n(src: FrameSource, n: int, timeout: float = 15.0) -> list[Any]:
    frames: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(frames) < n:
        assert time.monotonic() < deadline, f"only {len(frames)} of {n} frames"
        frame = src.read(0.5)
        if frame is not None:
            frames.append(frame)
    return frames


def test_http_stream_reconnects_after_the_camera_comes_back(mjpeg: Any, tmp_path: Path) -> None:
    src = open_source("cam-http", mjpeg.url, FAST, data_dir=tmp_path)
    assert src.live and not src.finished
    src.start()
    try:
        first = _read_n(src, 10)
        assert first[0].image.shape == (96, 128, 3) and first[0].source_ref == mjpeg.url
        assert src.stats().connected

        mjpeg.stop()
        _wait(lambda: not src.stats().connected)
        time.sleep(1.0)  # a few refused reconnects
        down = src.stats()
        assert down.open_failures >= 1 and down.reconnects >= 1
        while src.read(0.05) is not None:  # drain what was buffered before the drop
            pass

        mjpeg.start()  # same port
        again = _read_n(src, 10)
        stats = src.stats()
        assert stats.connected and stats.frames >= 20
        indexes = [f.index for f in first + again]
        times = [f.captured_at_us for f in first + again]
        assert indexes == sorted(set(indexes)) and times == sorted(set(times))
    finally:
        src.stop()


def test_silent_stream_is_detected_as_a_stall(mjpeg_factory: Any, tmp_path: Path) -> None:
    server = mjpeg_factory(stall_after=3)
    src = open_source("cam-stall", server.url, FAST, data_dir=tmp_path)
    src.start()
    try:
        _read_n(src, 3)
        _wait(lambda: src.stats().stalls >= 1)
        # each reconnect gets 3 frames and stalls again: the source keeps going
        _read_n(src, 3)
        assert src.stats().reconnects >= 1
    finally:
        src.stop()


def test_live_buffer_drops_oldest_when_the_consumer_is_slow(
    mjpeg_factory: Any, tmp_path: Path
) -> None:
    server = mjpeg_factory(fps=50.0)
    settings = FAST.model_copy(update={"buffer_frames": 2})
    src = open_source("cam-slow", server.url, settings, data_dir=tmp_path)
    src.start()
    try:
        _read_n(src, 1)
        time.sleep(1.0)  # ~50 frames arrive, only 2 are kept
        stats = src.stats()
        assert stats.overruns >= 20
        kept = [src.read(0.0), src.read(0.0)]
        assert all(f is not None for f in kept)
        assert kept[1].index == kept[0].index + 1  # type: ignore[union-attr]
        assert stats.frames - kept[0].index < 10  # type: ignore[union-attr]  # the newest kept
    finally:
        src.stop()


def test_missing_usb_device_retries_without_crashing(tmp_path: Path) -> None:
    src = open_source("cam-usb", "usb:63", FAST, data_dir=tmp_path)
    src.start()
    try:
        _wait(lambda: src.stats().open_failures >= 2)
        assert src.read(0.1) is None and not src.stats().connected
    finally:
        src.stop()
    assert src.stats().kind == "usb"
