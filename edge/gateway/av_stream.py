"""Network cameras (``rtsp://``, ``rtsps://``, ``http(s)://``) read with PyAV (FFmpeg).

One reader thread per camera (the thread, buffer, reconnect and stall logic are
``StreamSource``'s). PyAV instead of OpenCV's capture because it lets us pay only for
what analysis uses (bench/decode.py measures it):

* every packet is decoded (in H.264/H.265 each P-frame is a reference, so skipping one
  would corrupt the rest of its GOP), but only frames due at the analysis rate are
  converted to BGR; the conversion of a 1080p frame costs about as much as its decode;
* non-reference frames (B-frames, "smart codec" frames) are not decoded at all when
  the analysis rate is at most half the stream's rate (``skip_frame=NONREF``);
* ``set_keyframes_only(True)`` decodes keyframes only, for a scheduler that knows a
  camera needs no full rate (nothing moved);
* PyAV releases the GIL while FFmpeg demuxes and decodes, so cameras decode in parallel.

Capture times come from the stream's presentation timestamps mapped to wall-clock time
(``PtsClock``), so the frames of a main stream and its sub-stream can be matched.

FFmpeg's messages and exceptions carry the URL with its password: PyAV's FFmpeg log
callback stays off, and errors are logged as their type and errno only, with
``safe_uri``.
"""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from typing import Any

import av
import av.error
from av.container import InputContainer

from edge.gateway.av_common import PtsClock, describe_error, open_container, quiet_ffmpeg
from edge.gateway.hires import EvidenceStream
from edge.gateway.sampler import RateSampler
from edge.gateway.sources import SourceSettings, now_us, safe_uri
from edge.gateway.stream_source import StreamSource

log = logging.getLogger(__name__)


class AvStreamSource(StreamSource):
    """A network camera through PyAV; with ``detect_url`` its sub-stream is analysed
    and ``url`` (the main stream) is buffered for evidence only."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        settings: SourceSettings,
        *,
        fps: float | None = None,
        detect_url: str | None = None,
    ) -> None:
        super().__init__(camera_id, detect_url or url, settings)
        self._url = detect_url or url
        self._ref = safe_uri(url)  # frames are the camera's, whichever stream they are
        self._fps = fps
        self._keyframes_only = False
        self._evidence = (
            EvidenceStream(camera_id, url, settings) if detect_url is not None else None
        )

    def set_keyframes_only(self, on: bool) -> None:
        """Decode only keyframes (cheapest) until called with False."""
        self._keyframes_only = on

    def start(self) -> None:
        quiet_ffmpeg()
        if self._evidence is not None:
            self._evidence.start()
        super().start()

    def stop(self) -> None:
        super().stop()
        if self._evidence is not None:
            self._evidence.stop()

    def _open(self) -> Any:
        try:
            container = open_container(self._url, self._settings)
            if not container.streams.video:
                container.close()
                raise av.error.InvalidDataError(0, "no video stream")
        except (av.error.FFmpegError, OSError) as exc:
            with self._cond:
                self._open_failures += 1
            log.warning(
                "camera cannot be opened", extra={**self._ids(), "error": describe_error(exc)}
            )
            return None
        with self._cond:
            self._connected = True
        log.info("camera connected", extra=self._ids())
        return container

    def _close(self, cap: Any) -> None:
        cap.close()

    def _pump(self, cap: Any) -> None:
        container: InputContainer = cap
        stream = container.streams.video[0]
        ctx = stream.codec_context
        threads = self._settings.decoder_threads
        ctx.thread_count = threads
        if threads != 1:
            ctx.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        if self._fps is not None and rate and self._fps * 2 <= float(rate):
            ctx.skip_frame = "NONREF"
        sampler = RateSampler(self._fps)
        clock = PtsClock()
        state = _PumpState()
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return
                if packet.size == 0:  # FFmpeg's flush packet: the stream ended
                    log.warning("camera stream ended", extra=self._ids())
                    return
                if not self._packet(packet, stream.time_base, clock, sampler, state):
                    return
        except av.error.FFmpegError as exc:
            silent = time.monotonic() - state.last_ok
            if silent >= self._settings.stall_timeout_s * 0.9:
                with self._cond:
                    self._stalls += 1
                log.warning(
                    "camera stalled",
                    extra={
                        **self._ids(),
                        "silent_s": round(silent, 1),
                        "error": describe_error(exc),
                    },
                )
            else:
                log.warning(
                    "camera stream lost", extra={**self._ids(), "error": describe_error(exc)}
                )

    def _packet(
        self,
        packet: av.Packet[Any],
        time_base: Fraction | None,
        clock: PtsClock,
        sampler: RateSampler,
        state: _PumpState,
    ) -> bool:
        """Decode one packet; False when the connection should be dropped."""
        arrival = now_us()
        clock.observe(packet.pts, time_base, arrival)
        with self._cond:
            self._received += 1
        key = packet.is_keyframe
        if (state.need_key or self._keyframes_only) and not key:
            state.need_key = True
            with self._cond:
                self._skipped += 1
            return True
        state.need_key = False
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            state.failures += 1
            state.need_key = True  # references are broken until the next keyframe
            with self._cond:
                self._decode_errors += 1
                self._corrupt += 1
            return state.failures < self._settings.read_failures_before_reconnect
        state.failures = 0
        for frame in frames:
            state.last_ok = time.monotonic()
            self._backoff.reset()
            wall = clock.wall_us(frame.pts, time_base, arrival)
            with self._cond:
                self._decoded += 1
                due = sampler.admit(wall)
                if not due:
                    self._skipped += 1
            if due:
                img = frame.to_ndarray(format="bgr24")
                # without a pts the frame's time is only its arrival: no safe match
                known = self._evidence is not None and frame.pts is not None
                hires = self._evidence.picture_at(wall) if known and self._evidence else None
                self._deliver(img, wall, hires)
        return True


class _PumpState:
    __slots__ = ("failures", "last_ok", "need_key")

    def __init__(self) -> None:
        self.need_key = True  # a decoder joining mid-GOP waits for a keyframe
        self.failures = 0
        self.last_ok = time.monotonic()
