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


def _decoder(codec: _CodecInfo) -> VideoCodecContext:
    ctx = CodecContext.create(codec.name, "r")
    assert isinstance(ctx, VideoCodecContext)
    if codec.extradata:
        ctx.extradata = codec.extradata
    # one thread: frame threading would hold pictures back by a frame per thread
    ctx.thread_count = 1
    return ctx


class _Cursor:
    """A decoder and the last buffered packet it was fed."""

    __slots__ = ("codec", "ctx", "fed", "image")

    def __init__(self, ctx: VideoCodecContext, codec: _CodecInfo) -> None:
        self.ctx = ctx
        self.codec = codec
        self.fed: _Buffered | None = None
        self.image: Image | None = None

    def position(self, packets: list[_Buffered], codec: _CodecInfo) -> int | None:
        """Index in ``packets`` of the packet fed last; None if gone or another stream."""
        if codec is not self.codec or self.fed is None:
            return None
        return next((i for i, p in enumerate(packets) if p is self.fed), None)


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
        self._decode_lock = threading.Lock()
        self._cursor: _Cursor | None = None
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
        """The buffered picture nearest to ``wall_us`` (read-only; ``None`` when nothing
        near is buffered). Recognition asks for consecutive times while a face or plate
        is in view, so the decoder stays where it stopped: the next picture costs only
        the packets since, not its whole GOP again."""
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
        with self._decode_lock:
            image = self._decode_to(packets, start, nearest, codec)
        if image is None:
            self.misses += 1
        return image

    def _decode_to(
        self, packets: list[_Buffered], start: int, target: int, codec: _CodecInfo
    ) -> Image | None:
        cur = self._cursor
        resume = cur.position(packets, codec) if cur is not None else None
        if cur is not None and resume == target and cur.image is not None:
            return cur.image  # asked again (recognition, then evidence)
        if cur is None or resume is None or not start <= resume < target:
            cur = self._cursor = _Cursor(_decoder(codec), codec)
            resume = start - 1
        want = packets[target].packet.pts
        picture = None
        try:
            for item in packets[resume + 1 : target + 1]:
                for frame in cur.ctx.decode(item.packet):
                    picture = frame
                cur.fed = item
            if picture is None or picture.pts != want:
                # the decoder still holds the target: flushing releases it but ends
                # this decoder, so the next request starts from a keyframe again
                self._cursor = None
                for frame in cur.ctx.decode(None):
                    picture = frame
        except av.error.FFmpegError:
            log.warning("evidence frame undecodable", extra=self._ids())
            self._cursor = None
            picture = None
        self.decodes += 1
        if picture is None:
            return None
        image: Image = picture.to_ndarray(format="bgr24")  # type: ignore[assignment]
        image.flags.writeable = False  # shared by recognition and the evidence builder
        cur.image = image
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
