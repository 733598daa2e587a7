"""A camera's main stream kept for evidence while its sub-stream is analysed.

NVR practice: detect on the cheap sub-stream (e.g. 640x360), keep the evidence at the
main stream's resolution. Decoding a 1080p main stream only to throw most frames away
would cost what the sub-stream saves, so the reader thread here only demuxes: it keeps
the last ``evidence_buffer_s`` seconds of compressed packets with their wall-clock
times (the same ``PtsClock`` mapping as the sub-stream). When an analysed frame
becomes evidence, ``picture_at(t)()`` decodes, with a decoder of its own, just the GOP
from the keyframe before the packet nearest to ``t`` up to that packet.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Any

import av
import av.error
from av.codec.context import CodecContext
from av.container import InputContainer
from av.video.codeccontext import VideoCodecContext

from edge.backoff import Backoff
from edge.gateway.av_common import PtsClock, describe_error, open_container
from edge.gateway.sources import SourceSettings, now_us, safe_uri
from edge.vision.types import Image

log = logging.getLogger(__name__)

_JOIN_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class _Buffered:
    wall_us: int
    key: bool
    packet: av.Packet[Any]


@dataclass(frozen=True, slots=True)
class _CodecInfo:
    name: str
    extradata: bytes | None


class EvidenceStream:
    """The main stream's recent packets; ``picture_at`` decodes one on demand."""

    def __init__(self, camera_id: str, url: str, settings: SourceSettings) -> None:
        self._camera_id = camera_id
        self._url = url
        self._settings = settings
        self._ref = safe_uri(url)
        self._packets: deque[_Buffered] = deque()
        self._codec: _CodecInfo | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(
            settings.reconnect_initial_s, settings.reconnect_max_s, settings.reconnect_jitter
        )
        self.decodes = 0  # on-demand GOP decodes
        self.misses = 0  # asked for a time no longer (or not yet) buffered

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"evidence-{self._camera_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(_JOIN_TIMEOUT_S)
            self._thread = None

    def picture_at(self, wall_us: int) -> partial[Image | None]:
        """A callable returning the main-stream picture nearest to ``wall_us``."""
        return partial(self.decode_nearest, wall_us)

    def decode_nearest(self, wall_us: int) -> Image | None:
        with self._lock:
            packets = list(self._packets)
            codec = self._codec
        if not packets or codec is None:
            self.misses += 1
            return None
        nearest = min(range(len(packets)), key=lambda i: abs(packets[i].wall_us - wall_us))
        start = next((i for i in range(nearest, -1, -1) if packets[i].key), None)
        if start is None:
            self.misses += 1
            return None
        ctx = CodecContext.create(codec.name, "r")
        assert isinstance(ctx, VideoCodecContext)
        if codec.extradata:
            ctx.extradata = codec.extradata
        picture = None
        try:
            for item in packets[start : nearest + 1]:
                for frame in ctx.decode(item.packet):
                    picture = frame
            for frame in ctx.decode(None):  # flush: a decoder may hold the last frame
                picture = frame
        except av.error.FFmpegError:
            log.warning("evidence frame undecodable", extra=self._ids())
        self.decodes += 1
        if picture is None:
            self.misses += 1
            return None
        image: Image = picture.to_ndarray(format="bgr24")  # type: ignore[assignment]
        return image

    # -- reader thread -----------------------------------------------------------

    def _ids(self) -> dict[str, str]:
        return {"camera_id": self._camera_id, "source": self._ref}

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            if not first and self._stop.wait(self._backoff.next_delay()):
                break
            first = False
            try:
                container = open_container(self._url, self._settings)
            except (av.error.FFmpegError, OSError) as exc:
                log.warning(
                    "evidence stream cannot be opened",
                    extra={**self._ids(), "error": describe_error(exc)},
                )
                continue
            try:
                self._buffer(container, PtsClock())
            except av.error.FFmpegError as exc:
                log.warning(
                    "evidence stream lost", extra={**self._ids(), "error": describe_error(exc)}
                )
            finally:
                container.close()
                with self._lock:
                    self._packets.clear()  # the next connection has other timestamps

    def _buffer(self, container: InputContainer, clock: PtsClock) -> None:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        with self._lock:
            self._codec = _CodecInfo(ctx.name, ctx.extradata)
        keep_us = int(self._settings.evidence_buffer_s * 1_000_000)
        for packet in container.demux(stream):
            if self._stop.is_set() or packet.size == 0:
                return
            arrival = now_us()
            clock.observe(packet.pts, stream.time_base, arrival)
            wall = clock.wall_us(packet.pts, stream.time_base, arrival)
            self._backoff.reset()
            with self._lock:
                self._packets.append(_Buffered(wall, packet.is_keyframe, packet))
                self._trim(wall - keep_us)

    def _trim(self, cutoff_us: int) -> None:
        """Drop whole GOPs while the next one still starts before ``cutoff_us``: the
        buffer starts at a keyframe and covers at least the configured seconds."""
        p = self._packets
        while True:
            nxt = next((i for i in range(1, len(p)) if p[i].key), None)
            if nxt is None or p[nxt].wall_us > cutoff_us:
                return
            for _ in range(nxt):
                p.popleft()
