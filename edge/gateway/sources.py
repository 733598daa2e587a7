"""Camera sources: where frames come from, as one small protocol.

``open_source(camera_id, uri, ...)`` turns a configured URI into a ``FrameSource``:

* ``file:PATH``   a video file (FFmpeg) or a single image file
* ``folder:PATH`` an image drop folder (cameras uploading snapshots by FTP)
* ``rtsp://``, ``rtsps://``, ``http://``, ``https://`` a network stream (PyAV/FFmpeg,
                   ``edge.gateway.av_stream``), optionally with a sub-stream for analysis
* ``usb:N``       a local capture device (OpenCV)
* ``viid:DEVICE``  captures a GA/T 1400 smart camera pushes to the gateway's endpoint
                   (built by the composition root from the ``viid:`` section)

Every source stamps frames with a UTC capture time that never runs backwards per
camera, skips and counts corrupt frames instead of failing, and reports counters.
Live sources (streams, USB) may lose frames when analysis falls behind; recorded
sources (files, folders) are read at the pace of the consumer and lose nothing.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from edge.config import ImageLimits
from edge.errors import SourceError
from edge.gateway.config import SourceSettings as SourceSettings
from edge.vision.types import Image

log = logging.getLogger(__name__)

SCHEMES = ("file:", "folder:", "rtsp://", "rtsps://", "http://", "https://", "usb:", "viid:")
ALLOWED_TEXT = (
    "file:PATH, folder:PATH, rtsp://..., rtsps://..., http(s)://..., usb:N, viid:DEVICE_ID"
)


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One captured picture. ``source_ref`` says where it came from (credentials removed)."""

    camera_id: str
    index: int  # per source, +1 per delivered frame
    captured_at_us: int  # UTC microseconds since the epoch, strictly increasing per camera
    image: Image  # HxWx3 uint8 BGR
    source_ref: str
    #: recorded sources (files, drop folders): the key under which the outbox remembers
    #: how far this input has been turned into evidence, so a restart neither repeats
    #: nor skips it; None for live streams
    resume_key: str | None = None
    position: int = 0  # frame position within ``resume_key`` (0 for a still picture)
    #: a camera with a sub-stream (``detect_source``): ``image`` is the small analysis
    #: picture and this returns the main stream's picture nearest in time (decoded on
    #: demand, only for evidence), or None if it is no longer buffered
    hires: Callable[[], Image | None] | None = None


@dataclass(frozen=True, slots=True)
class SourceStats:
    camera_id: str
    kind: str  # file / folder / stream / usb
    connected: bool
    frames: int  # delivered
    corrupt: int  # undecodable frames or images, skipped
    overruns: int  # live frames dropped because the consumer did not keep up
    reconnects: int
    stalls: int  # connections dropped for sending nothing for stall_timeout_s
    open_failures: int
    clock_corrections: int  # capture times that would have run backwards
    last_frame_at_us: int | None
    finished: bool
    duplicates: int = 0  # folder: files whose content was already processed
    received: int = 0  # frames (access units) received from the camera
    decoded: int = 0  # frames decoded
    decode_errors: int = 0  # packets the decoder rejected
    skipped: int = 0  # frames deliberately not decoded / not delivered (analysis rate)


@runtime_checkable
class FrameSource(Protocol):
    @property
    def camera_id(self) -> str: ...

    @property
    def live(self) -> bool:
        """True: frames are lost if not read in time (streams); False: recorded input."""
        ...

    @property
    def finished(self) -> bool:
        """No frame will ever come again (end of a file)."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def drain(self) -> None:
        """Finish once what is available now has been read (``gateway run --once``);
        a live stream has no end and ignores this."""
        ...

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        """The next frame, or None if none arrived within ``timeout_s``."""
        ...

    def ack(self, frame: Frame) -> None:
        """The pipeline is done with ``frame`` (analysed or deliberately skipped)."""
        ...

    def stats(self) -> SourceStats: ...


class CaptureClock:
    """Keeps one camera's capture times strictly increasing (a clock step back, two
    files with one mtime) and counts every correction."""

    def __init__(self, camera_id: str) -> None:
        self._camera_id = camera_id
        self._last: int | None = None
        self.corrections = 0

    def stamp(self, t_us: int) -> int:
        if self._last is not None and t_us <= self._last:
            if self._last - t_us > 1_000_000 and self.corrections % 100 == 0:
                log.warning(
                    "capture clock ran backwards; times held monotonic",
                    extra={"camera_id": self._camera_id, "back_by_us": self._last - t_us},
                )
            self.corrections += 1
            t_us = self._last + 1
        self._last = t_us
        return t_us


def quiet_native_logs() -> None:
    """Keep FFmpeg/OpenCV from printing to stderr, past the redaction filter (their
    messages can carry stream URLs). Our own logs report opens, stalls and drops.
    Called by sources' start(); an operator's explicit settings are respected."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def now_us() -> int:
    return time.time_ns() // 1000


_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)([^/@]*@)", re.IGNORECASE)
_SECRET_QUERY = re.compile(
    r"([?&](?:[^=&#]*(?:token|pass|pwd|secret|key|auth|sig|session)[^=&#]*)=)[^&#]*",
    re.IGNORECASE,
)


def safe_uri(uri: str) -> str:
    """The URI without credentials (password, bare token userinfo, secret query values),
    fit for logs and ``Frame.source_ref``."""
    out = _SECRET_QUERY.sub(r"\1***", uri)
    m = _USERINFO.match(out)
    if not m:
        return out
    userinfo = m.group(2)[:-1]
    shown = f"{userinfo.split(':', 1)[0]}:***" if ":" in userinfo else "***"
    return f"{m.group(1)}{shown}@{out[m.end() :]}"


def valid_image(img: object) -> bool:
    return (
        isinstance(img, np.ndarray)
        and img.dtype == np.uint8
        and img.ndim == 3
        and img.shape[2] == 3
        and img.shape[0] > 0
        and img.shape[1] > 0
    )


def open_source(
    camera_id: str,
    uri: str,
    settings: SourceSettings,
    *,
    data_dir: Path,
    limits: ImageLimits | None = None,
    fps: float | None = None,
    detect_uri: str | None = None,
) -> FrameSource:
    """Build (without starting) the source for ``uri``; SourceError if it is malformed.

    ``fps``: the camera's analysis rate; a stream source delivers (and converts) no
    more frames than that. ``detect_uri``: the camera's sub-stream, analysed instead of
    ``uri`` whose frames then serve only as evidence (``Frame.hires``)."""
    from edge.gateway.av_stream import AvStreamSource
    from edge.gateway.file_source import FileSource
    from edge.gateway.folder_source import FolderSource
    from edge.gateway.stream_source import StreamSource

    limits = limits or ImageLimits()
    kind, target = parse_uri(uri)
    if kind == "file":
        return FileSource(camera_id, Path(target), settings, limits)
    if kind == "folder":
        return FolderSource(camera_id, Path(target), settings, limits, data_dir)
    if detect_uri is not None and kind != "stream":
        raise SourceError(
            f"camera {camera_id}: detect_source needs a stream source "
            f"(rtsp://, http(s)://), not {kind}:"
        )
    if kind == "usb":
        return StreamSource(camera_id, int(target), settings)
    if kind == "viid":
        raise SourceError(f"source viid:{target} is served by the gateway's viid: endpoint")
    detect = None
    if detect_uri is not None:
        detect_kind, detect = parse_uri(detect_uri)
        if detect_kind != "stream":
            raise SourceError(
                f"detect_source {safe_uri(detect_uri)!r}: a sub-stream must be an "
                "rtsp://, rtsps:// or http(s):// URL"
            )
    return AvStreamSource(camera_id, target, settings, fps=fps, detect_url=detect)


def parse_uri(uri: str) -> tuple[str, str]:
    """(kind, target) for a source URI: file/folder -> path, usb -> index, stream -> URL."""
    text = uri.strip()
    lowered = text.lower()
    for prefix, kind in (("file:", "file"), ("folder:", "folder")):
        if lowered.startswith(prefix):
            path = text[len(prefix) :]
            if path.startswith("//"):
                path = path[2:]
            if not path:
                raise SourceError(
                    f"source {uri!r}: {prefix} needs a path (e.g. {prefix}/data/cam1)"
                )
            return kind, path
    if lowered.startswith("viid:"):
        device = text[5:]
        if len(device) != 20 or not device.isdigit():
            raise SourceError(f"source {uri!r}: viid: needs the camera's 20-digit device id")
        return "viid", device
    if lowered.startswith("usb:"):
        index = text[4:]
        if not index.isdigit() or int(index) > 63:
            raise SourceError(f"source {uri!r}: usb: needs a device number 0-63 (e.g. usb:0)")
        return "usb", index
    if lowered.startswith(("rtsp://", "rtsps://", "http://", "https://")):
        host = text.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        if not host or any(c.isspace() for c in text):
            raise SourceError(f"source {safe_uri(uri)!r}: stream URL has no host or has spaces")
        return "stream", text
    hint = ""
    if text and Path(text).exists():
        guess = "folder" if Path(text).is_dir() else "file"
        hint = f"; did you mean {guess}:{text}?"
    raise SourceError(f"source {safe_uri(uri)!r} is not supported: allowed {ALLOWED_TEXT}{hint}")
