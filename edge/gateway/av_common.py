"""PyAV (FFmpeg) pieces shared by the stream readers: opening with timeouts, errors
without URLs, and presentation times mapped to wall-clock time."""

from __future__ import annotations

from fractions import Fraction

import av
import av.error
import av.logging
from av.container import InputContainer

from edge.gateway.sources import SourceSettings

#: a presentation time this far from its arrival time is a discontinuity (camera
#: restarted its clock), not network jitter: the mapping starts over
_REANCHOR_US = 5_000_000


def describe_error(exc: BaseException) -> str:
    """An FFmpeg error without its filename (the URL, password included)."""
    if isinstance(exc, av.error.FFmpegError):
        return f"{type(exc).__name__} (errno {exc.errno}: {exc.strerror})"
    return type(exc).__name__


def quiet_ffmpeg() -> None:
    """FFmpeg's log lines can carry stream URLs: keep PyAV's log callback off."""
    av.logging.set_level(None)


def open_options(url: str, settings: SourceSettings) -> dict[str, str]:
    """FFmpeg protocol options for ``url`` (timeouts in microseconds)."""
    read_us = str(int(settings.stall_timeout_s * 1_000_000))
    opts: dict[str, str] = {}
    if url.lower().startswith(("rtsp://", "rtsps://")):
        if settings.rtsp_transport != "auto":
            opts["rtsp_transport"] = settings.rtsp_transport
        opts["timeout"] = read_us  # rtsp: socket I/O timeout (FFmpeg >= 5; was stimeout)
        # the SDP already names the codec (usually with its parameter sets): probing the
        # default 5 s only delays the first frame (2.1 s -> 1.3 s measured at 0.5 s);
        # 1 s still spans a typical camera GOP
        opts["analyzeduration"] = "1000000"
    else:
        opts["rw_timeout"] = read_us  # http(s): any protocol read/write
    return opts


def open_container(url: str, settings: SourceSettings) -> InputContainer:
    """``av.open`` with the open and read timeouts (PyAV's interrupt callback bounds
    every blocking call, even a server that accepts and then says nothing)."""
    return av.open(
        url,
        options=open_options(url, settings),
        timeout=(settings.open_timeout_s, settings.stall_timeout_s),
    )


class PtsClock:
    """Maps a stream's presentation times to wall-clock microseconds.

    The offset is the smallest (arrival - pts) seen: the packet that was delayed least
    by network and buffering. Two streams of one camera get the same mapping up to the
    difference of their least delays, a few milliseconds on a LAN. RTCP sender reports
    would be exact but FFmpeg exposes them only once, at open, and often not at all."""

    def __init__(self) -> None:
        self._offset_us: int | None = None
        self.reanchors = 0

    def observe(self, pts: int | None, time_base: Fraction | None, arrival_us: int) -> None:
        if pts is None or time_base is None:
            return
        candidate = arrival_us - int(pts * time_base * 1_000_000)
        if self._offset_us is None or abs(candidate - self._offset_us) > _REANCHOR_US:
            if self._offset_us is not None:
                self.reanchors += 1
            self._offset_us = candidate
        elif candidate < self._offset_us:
            self._offset_us = candidate

    def wall_us(self, pts: int | None, time_base: Fraction | None, fallback_us: int) -> int:
        if pts is None or time_base is None or self._offset_us is None:
            return fallback_us
        return int(pts * time_base * 1_000_000) + self._offset_us
