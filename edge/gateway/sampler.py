"""Frame sampling and the bounded hand-over from capture to recognition.

``RateSampler`` keeps a camera at its configured analysis rate using capture
timestamps (not arrival times), so a video decoded faster than real time and a
jittery stream are sampled alike. ``FrameQueue`` bounds the frames waiting for
recognition per camera and serves cameras round-robin, so one busy camera cannot
starve the others. When recognition falls behind, a live camera loses its oldest
waiting frame (counted); a recorded source (file, drop folder) is instead held back,
because its frames can wait and skipping them would lose pictures for good. Only
frames are ever dropped here: evidence is built later and goes to the durable outbox.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from edge.errors import ConfigError
from edge.gateway.config import SamplerConfig as SamplerConfig
from edge.gateway.sources import Frame

log = logging.getLogger(__name__)


class RateSampler:
    """Admits at most ``fps`` frames per second of capture time (None: every frame)."""

    def __init__(self, fps: float | None) -> None:
        if fps is not None and fps <= 0:
            raise ConfigError(f"analysis fps must be > 0 (or unset for every frame), got {fps}")
        self._period_us = None if fps is None else round(1_000_000 / fps)
        self._next_due: int | None = None
        self.admitted = 0
        self.skipped = 0

    def admit(self, captured_at_us: int) -> bool:
        period = self._period_us
        if period is None:
            self.admitted += 1
            return True
        # a frame slightly early for its slot still takes it: arrival jitter must not
        # make a 25 fps camera sampled at 5 fps drift to every sixth frame
        tolerance = period // 10
        if self._next_due is not None and captured_at_us < self._next_due - tolerance:
            self.skipped += 1
            return False
        if self._next_due is None or captured_at_us > self._next_due + period:
            self._next_due = captured_at_us + period  # first frame or after a gap
        else:
            self._next_due += period
        self.admitted += 1
        return True


@dataclass(frozen=True, slots=True)
class QueueStats:
    depth: int
    depth_by_camera: dict[str, int]
    dropped_by_camera: dict[str, int]

    @property
    def dropped(self) -> int:
        return sum(self.dropped_by_camera.values())


class FrameQueue:
    """Bounded per-camera queues, served round-robin; thread-safe."""

    def __init__(
        self, config: SamplerConfig, on_drop: Callable[[Frame], None] | None = None
    ) -> None:
        self._per_camera = config.queue_per_camera
        self._on_drop = on_drop
        self._queues: dict[str, deque[Frame]] = {}
        self._order: deque[str] = deque()  # round-robin order of cameras
        self._dropped: dict[str, int] = {}
        self._cond = threading.Condition()
        self._closed = False

    def put(self, frame: Frame, *, live: bool, timeout_s: float | None = None) -> bool:
        """Queue ``frame``. Live: drop the camera's oldest waiting frame if full and
        return True. Recorded: wait for room; False if ``timeout_s`` passed (or the
        queue closed) without room, and the caller should offer the frame again."""
        dropped: Frame | None = None
        with self._cond:
            q = self._queue(frame.camera_id)
            if len(q) >= self._per_camera:
                if live:
                    dropped = q.popleft()
                    self._dropped[frame.camera_id] += 1
                elif not self._wait_for_room(q, timeout_s):
                    return False
            if self._closed:
                return False
            q.append(frame)
            self._cond.notify_all()
        if dropped is not None:
            self._note_drop(dropped)
        return True

    def _wait_for_room(self, q: deque[Frame], timeout_s: float | None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while len(q) >= self._per_camera and not self._closed:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._cond.wait(remaining)
        return not self._closed

    def _note_drop(self, frame: Frame) -> None:
        count = self._dropped[frame.camera_id]
        if count == 1 or count % 100 == 0:
            log.warning(
                "recognition behind; live frames dropped",
                extra={"camera_id": frame.camera_id, "dropped_total": count},
            )
        if self._on_drop is not None:
            self._on_drop(frame)

    def _queue(self, camera_id: str) -> deque[Frame]:
        q = self._queues.get(camera_id)
        if q is None:
            q = self._queues[camera_id] = deque()
            self._order.append(camera_id)
            self._dropped[camera_id] = 0
        return q

    def get(self, timeout_s: float | None = None) -> Frame | None:
        """The next frame, taking cameras in turn; None on timeout or when closed."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while True:
                for _ in range(len(self._order)):
                    camera = self._order[0]
                    self._order.rotate(-1)
                    q = self._queues[camera]
                    if q:
                        frame = q.popleft()
                        self._cond.notify_all()
                        return frame
                if self._closed:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def close(self) -> None:
        """Wake every waiter; later puts are refused, gets drain what is left."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def stats(self) -> QueueStats:
        with self._cond:
            depth = {c: len(q) for c, q in self._queues.items()}
            return QueueStats(sum(depth.values()), depth, dict(self._dropped))
