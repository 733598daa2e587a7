"""Fixtures for the gateway building blocks (real SQLite files, real sockets)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest

from edge.evidence.model import MatchEvent, PlateHit, canonical_bytes, event_from_dict
from edge.ids import uuid7

GATEWAY = "gw-test"


class EventKit:
    """Builds chained test events; handed to tests by the ``kit`` fixture."""

    @staticmethod
    def make_event(sequence: int, prev_hash: str, gateway: str = GATEWAY) -> MatchEvent:
        return _make_event(sequence, prev_hash, gateway)

    @staticmethod
    def builder(pad: int = 0) -> Callable[[int, str], tuple[MatchEvent, bytes]]:
        return _builder(pad)

    @staticmethod
    def decode(payload: bytes) -> MatchEvent:
        return event_from_dict(json.loads(payload.split(b"\n", 1)[0]))


@pytest.fixture(scope="session")
def kit() -> EventKit:
    return EventKit()


def _make_event(sequence: int, prev_hash: str, gateway: str = GATEWAY) -> MatchEvent:
    plate = PlateHit("S-1", "粤B12345", "粤B12345", "exact", 0.9, "blue", (1, 2, 3, 4), "m", None)
    return MatchEvent(
        event_id=uuid7(),
        gateway_id=gateway,
        camera_id="cam-1",
        captured_at_us=1_700_000_000_000_000 + sequence,
        sequence=sequence,
        prev_hash=prev_hash,
        faces=(),
        plates=(plate,),
        blobs=(),
        models=("m",),
    )


def _builder(pad: int = 0) -> Callable[[int, str], tuple[MatchEvent, bytes]]:
    """A builder whose payload is the canonical event (+ ``pad`` filler bytes)."""

    def build(sequence: int, prev_hash: str) -> tuple[MatchEvent, bytes]:
        event = _make_event(sequence, prev_hash)
        return event, canonical_bytes(event) + b"\n" + b"x" * pad

    return build


class MjpegServer:
    """A real HTTP MJPEG camera on 127.0.0.1 (multipart/x-mixed-replace JPEG frames).

    ``stop()`` closes the listening socket and every open stream; ``start()`` brings
    it back on the same port. ``stall_after`` frames, a stream goes silent.
    """

    def __init__(self, fps: float = 25.0, stall_after: int | None = None) -> None:
        self.fps = fps
        self.stall_after = stall_after
        self.port = 0
        self.served = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._alive = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    def start(self) -> None:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._alive.set()
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._alive.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                sent = 0
                while owner._alive.is_set():
                    if owner.stall_after is not None and sent >= owner.stall_after:
                        time.sleep(0.05)  # connected but silent
                        continue
                    img = np.full((96, 128, 3), (sent * 9) % 256, np.uint8)
                    jpg = cv2.imencode(".jpg", img)[1].tobytes()
                    head = (
                        f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpg)}\r\n\r\n"
                    )
                    try:
                        self.wfile.write(head.encode() + jpg + b"\r\n")
                        self.wfile.flush()
                    except OSError:
                        return
                    sent += 1
                    owner.served += 1
                    time.sleep(1.0 / owner.fps)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def mjpeg_factory() -> Iterator[Callable[..., MjpegServer]]:
    """Starts MJPEG servers (``fps``, ``stall_after``); all are stopped afterwards."""
    servers: list[MjpegServer] = []

    def make(fps: float = 25.0, stall_after: int | None = None) -> MjpegServer:
        server = MjpegServer(fps, stall_after)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def mjpeg(mjpeg_factory: Callable[..., MjpegServer]) -> MjpegServer:
    return mjpeg_factory()
