"""The project side of the test RTSP server (``tests/support/rtsp_server.py``, run by
the system python) and ffmpeg helpers that encode short test clips.

    clip = encode_clip(tmp_path / "a.ts", size=(320, 240), fps=25, seconds=4)
    with RtspServer({"cam1": clip}, auth=("user", "pw")) as srv:
        url = srv.url("cam1", "user", "pw")   # rtsp://user:pw@127.0.0.1:PORT/cam1
        srv.playing_at                         # --live: when frame 0 went out
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
#: the GStreamer elements rtsp_server.py builds its pipelines from
SERVER_ELEMENTS = (
    "appsrc",
    "appsink",
    "filesrc",
    "tsdemux",
    "qtdemux",
    "h264parse",
    "h265parse",
    "rtph264pay",
    "rtph265pay",
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing_tools() -> str | None:
    """Why the RTSP server cannot run here (for pytest.skip), or None if it can."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        return "ffmpeg/ffprobe not installed (Debian: ffmpeg)"
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); gi.require_version('Gst', '1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        f"missing = [e for e in {SERVER_ELEMENTS!r} if Gst.ElementFactory.find(e) is None];"
        "assert not missing, missing"
    )
    try:
        subprocess.run([SYSTEM_PYTHON, "-c", probe], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return (
            f"{SYSTEM_PYTHON} cannot import GstRtspServer (Debian: python3-gi "
            "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{good,bad,ugly} gstreamer1.0-libav)"
        )
    return None


class RtspServer:
    """One ``rtsp_server.py`` subprocess on 127.0.0.1. ``start()`` returns once it
    listens; ``stop()`` ends it; ``start()`` again serves the same mounts on the same
    port (a camera that went away and came back)."""

    def __init__(
        self,
        mounts: Mapping[str, Path],
        *,
        port: int | None = None,
        auth: tuple[str, str] | None = None,
        auth_method: str = "digest",
        protocols: Sequence[str] = ("tcp", "udp"),
        live: bool = False,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.mounts = dict(mounts)
        self.port = port if port is not None else free_port()
        self.auth = auth
        self.auth_method = auth_method
        self.protocols = tuple(protocols)
        self.live = live
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    @property
    def playing_at(self) -> float:
        """Unix time of the shared playback's frame 0 (``live=True``)."""
        return float(self.info["playing_at"])

    def command(self) -> list[str]:
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port)]
        for name, path in self.mounts.items():
            cmd += ["--mount", f"{name}={path}"]
        if self.auth is not None:
            cmd += ["--auth", f"{self.auth[0]}:{self.auth[1]}"]
            cmd += ["--auth-method", self.auth_method]
        cmd += ["--protocols", ",".join(self.protocols)]
        if self.live:
            cmd.append("--live")
        return cmd

    def start(self) -> RtspServer:
        if self.proc is not None:
            return self
        # its own process group, so stop() also ends anything GStreamer forked
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            self.info = self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + self.ready_timeout_s
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while (left := deadline - time.monotonic()) > 0:
                if not sel.select(left):
                    continue
                line = self.proc.stdout.readline()
                if not line:
                    err = self.proc.stderr.read() if self.proc.stderr else ""
                    raise RuntimeError(f"RTSP server exited before ready: {err[-2000:]}")
                if line.startswith("{"):
                    info: dict[str, Any] = json.loads(line)
                    return info
        finally:
            sel.close()
        raise TimeoutError(f"RTSP server not ready within {self.ready_timeout_s} s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def url(self, mount: str, user: str | None = None, password: str | None = None) -> str:
        userinfo = ""
        if user is not None:
            userinfo = quote(user, safe="")
            if password is not None:
                userinfo += ":" + quote(password, safe="")
            userinfo += "@"
        return f"rtsp://{userinfo}127.0.0.1:{self.port}/{mount}"

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def encode_clip(
    path: Path,
    *,
    size: tuple[int, int] = (320, 240),
    fps: int = 25,
    seconds: float = 4.0,
    codec: str = "h264",
    gop: int | None = None,
    bitrate: str | None = None,
    source: str = "testsrc",
    counter: bool = False,
    preset: str = "ultrafast",
    bframes: int = 0,
) -> Path:
    """Encode a test clip (MPEG-TS for ``.ts``, MP4 for ``.mp4``) from an lavfi
    ``source`` (``testsrc``, ``testsrc2``, ...) or, if ``source`` is a file path, from
    that video or still picture (scaled, cut to ``seconds``). No B-frames by default (the
    server sends in decode order). ``gop`` defaults to one keyframe per second. ``counter``
    burns a frame's number into a row of boxes along the top (see ``frame_counter``) so
    a test can tell which source frame a decoded picture is, at any resolution.
    ``preset``: x264/x265's (ultrafast is quick to make and to decode; cameras'
    streams decode like veryfast). ``bframes`` > 0 only for clips read from the file
    (bench/decode.py): rtsp_server.py sends in decode order."""
    if codec not in ("h264", "h265"):
        raise ValueError(f"codec {codec!r}: allowed h264, h265")
    w, h = size
    if Path(source).suffix.lower() in (".jpg", ".jpeg", ".png"):
        inputs = ["-loop", "1", "-framerate", str(fps), "-i", source]
        vf = [f"scale={w}:{h}"]
    elif Path(source).exists():
        inputs = ["-stream_loop", "-1", "-i", source]
        vf = [f"scale={w}:{h}", f"fps={fps}"]
    else:
        inputs = ["-f", "lavfi", "-i", f"{source}=size={w}x{h}:rate={fps}"]
        vf = []
    if counter:
        vf.append(_counter_filter(w, h))
    enc = ["-c:v", "libx264" if codec == "h264" else "libx265", "-preset", preset]
    enc += ["-bf", str(bframes), "-g", str(gop or fps), "-pix_fmt", "yuv420p"]
    if codec == "h265":
        enc += ["-x265-params", f"bframes={bframes}:keyint={gop or fps}:log-level=error"]
    if bitrate:
        enc += ["-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate]
    cmd = ["ffmpeg", "-v", "error", "-y", *inputs, "-t", str(seconds)]
    if vf:
        cmd += ["-vf", ",".join(vf)]
    done = subprocess.run([*cmd, *enc, "-an", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not encode {path.name}: {done.stderr[-1500:]}")
    return path


COUNTER_BITS = 12


def _counter_filter(w: int, h: int) -> str:
    """ffmpeg drawbox filters painting frame number ``n`` as COUNTER_BITS boxes along
    the top edge: white = 1, black = 0. Each box is 1/16 of the width, robust to
    scaling and compression."""
    bw, bh = w // 16, max(2, h // 12)
    boxes = []
    for bit in range(COUNTER_BITS):
        x = bit * bw
        boxes.append(f"drawbox=x={x}:y=0:w={bw}:h={bh}:color=black:t=fill")
        boxes.append(
            f"drawbox=x={x}:y=0:w={bw}:h={bh}:color=white:t=fill:"
            f"enable='eq(mod(floor(n/{2**bit}),2),1)'"
        )
    return ",".join(boxes)


def frame_counter(image: Any) -> int:
    """The frame number burnt in by ``encode_clip(counter=True)``, read from a BGR
    image of any size."""
    h, w = image.shape[:2]
    bw, bh = w // 16, max(2, h // 12)
    n = 0
    for bit in range(COUNTER_BITS):
        cell = image[bh // 4 : bh * 3 // 4, bit * bw + bw // 4 : bit * bw + bw * 3 // 4]
        if float(cell.mean()) > 127:
            n |= 1 << bit
    return n


# -- reading a FrameSource in tests ----------------------------------------------------


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def read_n(src: Any, n: int, timeout: float = 10.0) -> list[Any]:
    """``n`` frames from a started FrameSource, or AssertionError after ``timeout``."""
    frames: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(frames) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(frames)} of {n} frames")
        frame = src.read(0.5)
        if frame is not None:
            frames.append(frame)
    return frames
