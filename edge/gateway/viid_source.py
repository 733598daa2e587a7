"""``viid:DEVICE`` sources: captures that GA/T 1400 smart cameras push to the gateway.

The composition root owns one ``ViidReceiver``: a small VIID endpoint (Starlette on
uvicorn, in a background thread; edge/gateway/viid_app.py) with digest authentication
per camera. Each camera's pushed pictures become frames of its ``ViidSource``, which
the gateway analyses as stills with its own models, exactly like drop-folder pictures:
what matches becomes evidence, what does not is forgotten with the frame. Nothing a
camera pushes is written to disk, and the camera's own readings (its plate text, its
face attributes) are never even parsed.

A source is not live: when analysis falls behind, a push waits up to
``busy_timeout_s`` for room and is otherwise answered "Device Busy" (StatusCode 2),
so the camera keeps and resends it. A capture is answered "OK" only once all its
pictures have been analysed (and any evidence is in the outbox): if the gateway stops
first, the camera is told "busy" and sends it again, so nothing is lost.
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence

import uvicorn

from edge.config import ImageLimits
from edge.errors import SourceError
from edge.gateway.sources import CaptureClock, Frame, SourceStats, now_us
from edge.gateway.viid_config import ViidReceiverConfig, load_passwords
from edge.viid.digest import DigestVerifier
from edge.vision.types import Image

log = logging.getLogger(__name__)


class Ticket:
    """One capture's pictures: done when every one of them has been analysed."""

    __slots__ = ("done", "left")

    def __init__(self, n: int) -> None:
        self.left = n
        self.done = False


class ViidSource:
    """One camera's pushed pictures, waiting for analysis (bounded, never dropped)."""

    def __init__(self, camera_id: str, device_id: str, capacity: int) -> None:
        self._camera_id = camera_id
        self.device_id = device_id
        self._capacity = capacity
        self._cond = threading.Condition()
        self._frames: collections.deque[Frame] = collections.deque()
        self._tickets: dict[int, Ticket] = {}  # frame index -> its capture
        self._clock = CaptureClock(camera_id)
        self._index = 0
        self._stopped = False
        self._drain = False
        self.frames_in = self.busy = self.corrupt = 0
        self.registered = False
        self.last_seen_us: int | None = None

    @property
    def camera_id(self) -> str:
        return self._camera_id

    @property
    def live(self) -> bool:
        return False

    @property
    def finished(self) -> bool:
        with self._cond:
            return self._stopped or (self._drain and not self._frames)

    def start(self) -> None:
        with self._cond:
            self._stopped = False

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            # pictures not analysed yet are forgotten (never kept); their captures were
            # not answered OK, so the camera sends them again
            self._frames.clear()
            self._tickets.clear()
            self._cond.notify_all()

    def drain(self) -> None:
        self._drain = True

    def offer(self, images: Sequence[Image], shot_us: int, timeout_s: float) -> Ticket | None:
        """Queue one capture's pictures, all or none; None when there was no room."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._frames) + len(images) > max(self._capacity, len(images)):
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped:
                    self.busy += 1
                    return None
                self._cond.wait(left)
            if self._stopped:
                return None
            ticket = Ticket(len(images))
            for img in images:
                at = self._clock.stamp(shot_us)
                ref = f"viid:{self.device_id}"
                self._frames.append(Frame(self._camera_id, self._index, at, img, ref))
                self._tickets[self._index] = ticket
                self._index += 1
            self.frames_in += len(images)
            self.last_seen_us = now_us()
            self._cond.notify_all()
        return ticket

    def wait(self, ticket: Ticket, timeout_s: float) -> bool:
        """True once the capture's pictures are all analysed; False on timeout or stop."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not ticket.done:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped:
                    return False
                self._cond.wait(left)
        return True

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        with self._cond:
            if not self._frames:
                self._cond.wait(timeout_s)
            if not self._frames:
                return None
            frame = self._frames.popleft()
            self._cond.notify_all()
            return frame

    def ack(self, frame: Frame) -> None:
        """The picture was analysed (and is forgotten); its capture may now be answered."""
        with self._cond:
            ticket = self._tickets.pop(frame.index, None)
            if ticket is not None:
                ticket.left -= 1
                ticket.done = ticket.left <= 0
                self._cond.notify_all()

    def stats(self) -> SourceStats:
        with self._cond:
            return SourceStats(
                camera_id=self._camera_id,
                kind="viid",
                connected=self.registered or self.last_seen_us is not None,
                frames=self.frames_in,
                corrupt=self.corrupt,
                overruns=self.busy,
                reconnects=0,
                stalls=0,
                open_failures=0,
                clock_corrections=self._clock.corrections,
                last_frame_at_us=self.last_seen_us,
                finished=self._stopped,
            )


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise SourceError(f"viid.listen {host}:{port} cannot be bound: {e.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class ViidReceiver:
    """The gateway's VIID endpoint; start() after the sources, stop() before them."""

    def __init__(self, config: ViidReceiverConfig, limits: ImageLimits) -> None:
        self._config = config
        self._limits = limits
        self._sources: dict[str, ViidSource] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port = 0

    @property
    def config(self) -> ViidReceiverConfig:
        return self._config

    @property
    def limits(self) -> ImageLimits:
        return self._limits

    def source(self, camera_id: str, device_id: str) -> ViidSource:
        if device_id in self._sources:
            raise SourceError(f"camera {camera_id}: device {device_id} already has a camera")
        src = ViidSource(camera_id, device_id, self._config.queue_per_camera)
        self._sources[device_id] = src
        return src

    def source_of(self, device_id: str) -> ViidSource | None:
        return self._sources.get(device_id)

    def start(self) -> None:
        from edge.gateway.viid_app import build_app

        cfg = self._config
        passwords = load_passwords(cfg)  # fails fast, naming the file
        verifier = DigestVerifier(cfg.realm, os.urandom(32), cfg.nonce_ttl_s, time.time)
        app = build_app(self, verifier, passwords)
        host, port = cfg.listen.rsplit(":", 1)
        self._sock = _bind(host, int(port))
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", server_header=False
        )
        self._server = uvicorn.Server(config)
        sock = self._sock
        self._thread = threading.Thread(
            target=lambda: self._server.run(sockets=[sock]) if self._server else None,
            name="viid-receiver",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise SourceError(f"viid endpoint on {cfg.listen} did not start")
            time.sleep(0.02)
        log.info("viid endpoint listening", extra={"port": self.port, "devices": len(cfg.devices)})

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._server = None
