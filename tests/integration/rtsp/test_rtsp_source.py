"""Network cameras (edge.gateway.av_stream) against the real GStreamer RTSP server on
127.0.0.1: transports, credentials, a server that goes away and comes back, one that
never answers, a resolution change, H.265 and a sub-stream matched to its main stream."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from edge.gateway.sources import SourceSettings, open_source
from tests.support.rtsp import RtspServer, encode_clip, frame_counter, read_n, wait_for

FAST = SourceSettings(
    reconnect_initial_s=0.2,
    reconnect_max_s=0.5,
    open_timeout_s=2.0,
    stall_timeout_s=1.5,
)
SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_reads_over_each_transport(transport: str, clips: dict[str, Path], tmp_path: Path) -> None:
    settings = FAST.model_copy(update={"rtsp_transport": transport})
    # the server offers only this transport: a fallback to the other would fail
    with RtspServer({"cam": clips["small"]}, protocols=[transport]) as server:
        src = open_source("cam-1", server.url("cam"), settings, data_dir=tmp_path, fps=10)
        src.start()
        try:
            frames = read_n(src, 8)
        finally:
            src.stop()
    assert {f.image.shape for f in frames} == {(240, 320, 3)}
    counters = [frame_counter(f.image) for f in frames[1:]]
    assert counters == sorted(counters) and len(set(counters)) == len(counters)
    # 25 fps sent, 10 fps wanted: about every other or third frame is delivered
    gaps = {b - a for a, b in itertools.pairwise(counters)}
    assert gaps <= {2, 3}, gaps
    stats = src.stats()
    assert stats.kind == "stream" and stats.decode_errors == 0
    assert stats.received >= stats.decoded >= stats.frames >= 8
    assert stats.skipped >= stats.decoded - stats.frames > 0


def test_password_never_reaches_logs_stats_or_errors(
    clips: dict[str, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    with RtspServer({"cam": clips["small"]}, auth=("admin", SECRET)) as server:
        wrong = open_source(
            "cam-bad", server.url("cam", "admin", SECRET + "x"), FAST, data_dir=tmp_path
        )
        wrong.start()
        try:
            wait_for(lambda: wrong.stats().open_failures >= 2)
        finally:
            wrong.stop()
        good = open_source("cam-ok", server.url("cam", "admin", SECRET), FAST, data_dir=tmp_path)
        good.start()
        try:
            frames = read_n(good, 3)
        finally:
            good.stop()
    assert frames[0].source_ref == f"rtsp://admin:***@127.0.0.1:{server.port}/cam"
    assert any(r.getMessage() == "camera cannot be opened" for r in caplog.records)
    out, err = capfd.readouterr()
    seen = [out, err, repr(wrong.stats()), repr(good.stats()), repr(frames[0])]
    seen += [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    assert not [s for s in seen if SECRET in s]
    error = next(r for r in caplog.records if r.getMessage() == "camera cannot be opened")
    assert "Unauthorized" in str(error.__dict__["error"]) or "errno" in error.__dict__["error"]


def test_server_that_stops_and_comes_back(clips: dict[str, Path], tmp_path: Path) -> None:
    server = RtspServer({"cam": clips["small"]}).start()
    src = open_source("cam-2", server.url("cam"), FAST, data_dir=tmp_path, fps=10)
    src.start()
    try:
        first = read_n(src, 5)
        server.stop()
        wait_for(lambda: not src.stats().connected)
        wait_for(lambda: src.stats().open_failures >= 1)
        while src.read(0.05) is not None:  # what was buffered before the drop
            pass
        server.start()  # same port, same mount
        again = read_n(src, 5)
    finally:
        src.stop()
        server.stop()
    stats = src.stats()
    assert stats.reconnects >= 1 and stats.open_failures >= 1 and stats.frames >= 10
    indexes = [f.index for f in first + again]
    times = [f.captured_at_us for f in first + again]
    assert indexes == sorted(set(indexes)) and times == sorted(set(times))


def test_server_that_freezes_mid_stream_is_a_stall(clips: dict[str, Path], tmp_path: Path) -> None:
    with RtspServer({"cam": clips["small"]}) as server:
        src = open_source("cam-frozen", server.url("cam"), FAST, data_dir=tmp_path, fps=10)
        src.start()
        try:
            read_n(src, 3)
            assert server.proc is not None
            os.killpg(server.proc.pid, signal.SIGSTOP)  # TCP stays open, nothing comes
            try:
                frozen = time.monotonic()
                wait_for(lambda: src.stats().stalls >= 1, timeout=FAST.stall_timeout_s + 3)
                assert time.monotonic() - frozen >= FAST.stall_timeout_s * 0.8
                assert not src.stats().connected or src.stats().reconnects >= 1
            finally:
                os.killpg(server.proc.pid, signal.SIGCONT)
            while src.read(0.05) is not None:
                pass
            read_n(src, 3)  # back after a reconnect
        finally:
            src.stop()
    assert src.stats().reconnects >= 1


@pytest.fixture
def mute_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    done.set()
    thread.join()
    for s in held:
        s.close()
    listener.close()


def test_server_that_never_answers_times_out(
    mute_server: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"rtsp://admin:{SECRET}@127.0.0.1:{mute_server}/cam"
    src = open_source("cam-mute", url, FAST, data_dir=tmp_path)
    started = time.monotonic()
    src.start()
    wait_for(lambda: src.stats().open_failures >= 1, timeout=FAST.open_timeout_s + 3)
    assert time.monotonic() - started < FAST.open_timeout_s + 2
    assert src.read(0.1) is None and not src.stats().connected
    stopping = time.monotonic()
    src.stop()
    assert time.monotonic() - stopping < FAST.open_timeout_s + 1
    error = next(r for r in caplog.records if r.getMessage() == "camera cannot be opened")
    assert error.__dict__["source"] == f"rtsp://admin:***@127.0.0.1:{mute_server}/cam"
    assert SECRET not in str(error.__dict__)


def test_resolution_change_mid_stream(clips: dict[str, Path], tmp_path: Path) -> None:
    # 4 s at 320x240 then 2 s at 480x272, looped
    with RtspServer({"cam": clips["changing"]}, live=True) as server:
        src = open_source("cam-3", server.url("cam"), FAST, data_dir=tmp_path, fps=5)
        src.start()
        try:
            shapes: set[tuple[int, ...]] = set()
            deadline = time.monotonic() + 9
            while len(shapes) < 2 and time.monotonic() < deadline:
                frame = src.read(0.5)
                if frame is not None:
                    shapes.add(frame.image.shape)
        finally:
            src.stop()
    assert shapes == {(240, 320, 3), (272, 480, 3)}
    assert src.stats().decode_errors == 0


def test_h265_stream(tmp_path: Path) -> None:
    try:
        av.codec.Codec("hevc", "r")
    except av.error.FFmpegError:  # pragma: no cover - depends on the FFmpeg build
        pytest.skip("this FFmpeg build has no HEVC decoder")
    clip = encode_clip(tmp_path / "h265.mp4", size=(320, 180), seconds=2, codec="h265")
    with RtspServer({"cam": clip}) as server:
        assert server.info["mounts"]["cam"]["codec"] == "h265"
        src = open_source("cam-265", server.url("cam"), FAST, data_dir=tmp_path)
        src.start()
        try:
            frames = read_n(src, 5)
        finally:
            src.stop()
    assert {f.image.shape for f in frames} == {(180, 320, 3)}


def test_sub_stream_frames_carry_the_matching_main_stream_picture(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    # one --live playback: frame k of main and sub goes out at the same moment
    with RtspServer({"main": clips["main"], "sub": clips["sub"]}, live=True) as server:
        src = open_source(
            "cam-4",
            server.url("main"),
            FAST,
            data_dir=tmp_path,
            fps=5,
            detect_uri=server.url("sub"),
        )
        src.start()
        try:
            frames = read_n(src, 8)
            pairs = [(f, f.hires() if f.hires else None) for f in frames]
        finally:
            src.stop()
    assert frames[0].source_ref == server.url("main")
    matched = [(frame_counter(f.image), frame_counter(h)) for f, h in pairs if h is not None]
    assert len(matched) >= 6
    assert all(h is None or h.shape == (540, 960, 3) for _, h in pairs)
    # the same source frame; one frame apart at most (25 fps = 40 ms of clock error)
    assert all(abs(a - b) <= 1 for a, b in matched), matched
    assert sum(a == b for a, b in matched) >= len(matched) // 2, matched
