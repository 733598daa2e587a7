"""One inference scheduler for every camera of a gateway.

Each camera's reader offers the frames its sampler admitted; N worker threads take
them. Measured on a 2-core box (see docs/gateway.md): with one recognition thread,
onnxruntime's intra-op pool added only ~0.2 cores to the ~0.7-1 core that thread
used, so 8 cameras left the CPU partly idle while live frames were dropped. The GIL
was held ~10 % of the time. So the fix is several workers, each running small
single-threaded inferences side by side (Session.run releases the GIL).

Rules, in this order:

* a camera has at most one frame in flight: its pipeline (tracker, motion gate) is
  sequential, and one fast camera cannot take every worker;
* a free worker takes the frame waiting longest, where a camera whose last analysed
  frame moved gets a head start of half ``max_frame_age_s``: motion first, yet a still
  camera is still looked at before its frames expire (a strict "moving first" starved
  still cameras for good under load: measured 0 of 4 passes on 2 of 8 cameras);
* a live camera keeps at most ``queue_per_camera`` frames: a new frame pushes out its
  oldest (reason ``queue_full``); a recorded source (file, folder) is held back
  instead, because its frames can wait and skipping them would lose pictures;
* a live frame older than ``max_frame_age_s`` when it would be taken is dropped
  (reason ``too_old``): analysing it late helps nobody and delays the next one.

Every drop is counted per camera and reason, and a rate-limited warning names the
cameras that lag and why: the scheduler never skips silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from edge.config import RuntimeConfig
from edge.gateway.config import SchedulerConfig
from edge.gateway.sources import Frame, FrameSource, now_us

log = logging.getLogger(__name__)

REASONS: Final = ("queue_full", "too_old")
#: frame ages kept per camera for the p50/p99 in heartbeats
AGE_WINDOW: Final = 512
FPS_WINDOW_S: Final = 10


@dataclass(frozen=True, slots=True)
class Taken:
    """A frame handed to a worker, with its age (seconds) at that moment."""

    frame: Frame
    age_s: float
    live: bool


@dataclass(frozen=True, slots=True)
class LaneStats:
    offered: int
    taken: int
    depth: int
    in_flight: bool
    dropped: dict[str, int]  # reason -> count since start
    age_p50_s: float
    age_p99_s: float
    lag_reason: str  # reason of the last drop if recent, else ""
    fps: float  # frames taken for analysis per second, over the last FPS_WINDOW_S


@dataclass(frozen=True, slots=True)
class SchedulerStats:
    depth: int
    in_flight: int
    cameras: dict[str, LaneStats]

    @property
    def dropped(self) -> int:
        return sum(sum(c.dropped.values()) for c in self.cameras.values())


@dataclass(slots=True)
class _Waiting:
    frame: Frame
    live: bool
    offered_us: int


@dataclass
class _Lane:
    queue: deque[_Waiting] = field(default_factory=deque)
    #: since when this camera has had a frame waiting without being served; a newer
    #: frame pushing out an older one does not reset it (else a camera whose frames
    #: keep being replaced always looks freshly queued and is never served)
    waiting_since_us: int = 0
    in_flight: bool = False
    moving: bool = False
    offered: int = 0
    taken: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    ages: deque[float] = field(default_factory=lambda: deque(maxlen=AGE_WINDOW))
    taken_at: deque[int] = field(default_factory=lambda: deque(maxlen=AGE_WINDOW))
    last_drop_reason: str = ""
    last_drop_us: int = 0


class InferenceScheduler:
    """Thread-safe. ``now_us`` is the wall clock frames are stamped with (a fake clock
    in unit tests); ``on_drop`` is told about every dropped frame (to ack it)."""

    def __init__(
        self,
        config: SchedulerConfig,
        *,
        clock_us: Callable[[], int] = now_us,
        on_drop: Callable[[Frame, str], None] | None = None,
        warn_every_s: float = 10.0,
    ) -> None:
        self._per_camera = config.queue_per_camera
        self._max_age_us = round(config.max_frame_age_s * 1_000_000)
        self._motion_lead_us = self._max_age_us // 2
        self._clock_us = clock_us
        self._on_drop = on_drop
        self._warn_every_us = round(warn_every_s * 1_000_000)
        self._lanes: dict[str, _Lane] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._unreported: Counter[tuple[str, str]] = Counter()
        self._last_warn_us: int | None = None

    # -- readers -----------------------------------------------------------------

    def offer(self, frame: Frame, *, live: bool, timeout_s: float | None = None) -> bool:
        """Queue ``frame``. Live: never waits (the oldest waiting frame gives way).
        Recorded: waits for room; False if ``timeout_s`` passed or the scheduler closed
        first, and the caller should offer the frame again."""
        dropped: list[tuple[Frame, str]] = []
        with self._cond:
            lane = self._lane(frame.camera_id)
            was_waiting = bool(lane.queue)
            if len(lane.queue) >= self._per_camera:
                if live:
                    old = lane.queue.popleft()
                    dropped.append((old.frame, self._count_drop(lane, old.frame, "queue_full")))
                elif not self._wait_for_room(lane, timeout_s):
                    return False
            if self._closed:
                return False
            now = self._clock_us()
            if not lane.queue and not (live and was_waiting):
                lane.waiting_since_us = now
            lane.queue.append(_Waiting(frame, live, now))
            lane.offered += 1
            self._cond.notify_all()
        self._after_drops(dropped)
        return True

    def _wait_for_room(self, lane: _Lane, timeout_s: float | None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while len(lane.queue) >= self._per_camera and not self._closed:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._cond.wait(remaining)
        return not self._closed

    # -- workers -----------------------------------------------------------------

    def take(self, timeout_s: float | None = None) -> Taken | None:
        """The next frame to analyse, or None on timeout or once closed and empty.
        The caller must call ``done`` for the frame's camera when finished."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        dropped: list[tuple[Frame, str]] = []
        try:
            with self._cond:
                while True:
                    now = self._clock_us()
                    dropped += self._expire(now)
                    taken = self._pick(now)
                    if taken is not None:
                        return taken
                    if self._closed and not any(lane.queue for lane in self._lanes.values()):
                        return None
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return None
                    # wake up now and then: a frame may grow too old while all wait
                    self._cond.wait(0.5 if remaining is None else min(remaining, 0.5))
        finally:
            self._after_drops(dropped)

    def done(self, camera_id: str, *, moving: bool) -> None:
        """The camera's frame in flight is finished; ``moving``: something moved in it
        (its next frame is taken before those of still cameras)."""
        with self._cond:
            lane = self._lane(camera_id)
            lane.in_flight = False
            lane.moving = moving
            self._cond.notify_all()

    def _expire(self, now: int) -> list[tuple[Frame, str]]:
        out = []
        for lane in self._lanes.values():
            while lane.queue and lane.queue[0].live:
                w = lane.queue[0]
                if now - w.frame.captured_at_us <= self._max_age_us:
                    break
                lane.queue.popleft()
                out.append((w.frame, self._count_drop(lane, w.frame, "too_old")))
        if out:
            self._cond.notify_all()  # readers of recorded sources may wait for room
        return out

    def _pick(self, now: int) -> Taken | None:
        best: int | None = None
        chosen: _Lane | None = None
        for lane in self._lanes.values():
            if lane.in_flight or not lane.queue:
                continue
            # moving cameras go first by a head start, not absolutely: a camera judged
            # still must still be looked at before its frames grow too old, or it
            # would never be looked at again (its "still" is only updated by analysis)
            key = lane.waiting_since_us - (self._motion_lead_us if lane.moving else 0)
            if best is None or key < best:
                best, chosen = key, lane
        if chosen is None:
            return None
        w = chosen.queue.popleft()
        chosen.waiting_since_us = now  # what still waits queues anew behind the others
        chosen.in_flight = True
        chosen.taken += 1
        since = w.frame.captured_at_us if w.live else w.offered_us
        age = max(0.0, (now - since) / 1_000_000)
        chosen.ages.append(age)
        chosen.taken_at.append(now)
        self._cond.notify_all()
        return Taken(w.frame, age, w.live)

    # -- drops -------------------------------------------------------------------

    def _count_drop(self, lane: _Lane, frame: Frame, reason: str) -> str:
        lane.dropped[reason] += 1
        lane.last_drop_reason = reason
        lane.last_drop_us = self._clock_us()
        self._unreported[(frame.camera_id, reason)] += 1
        return reason

    def _after_drops(self, dropped: Sequence[tuple[Frame, str]]) -> None:
        if not dropped:
            return
        if self._on_drop is not None:
            for frame, reason in dropped:
                self._on_drop(frame, reason)
        self._maybe_warn()

    def _maybe_warn(self) -> None:
        with self._cond:
            now = self._clock_us()
            due = self._last_warn_us is None or now - self._last_warn_us >= self._warn_every_us
            if not due or not self._unreported:
                return
            lagging: dict[str, dict[str, int]] = {}
            for (camera, reason), n in sorted(self._unreported.items()):
                lagging.setdefault(camera, {})[reason] = n
            self._unreported.clear()
            self._last_warn_us = now
        names = ", ".join(f"{c} ({', '.join(sorted(r))})" for c, r in lagging.items())
        log.warning(
            f"recognition behind; frames dropped on {names}",
            extra={"lagging": lagging, "interval_s": self._warn_every_us / 1_000_000},
        )

    # -- lifecycle and health ----------------------------------------------------

    def _lane(self, camera_id: str) -> _Lane:
        lane = self._lanes.get(camera_id)
        if lane is None:
            lane = self._lanes[camera_id] = _Lane()
        return lane

    def add_camera(self, camera_id: str) -> None:
        """Known from the start, so health lists a camera before its first frame."""
        with self._cond:
            self._lane(camera_id)

    def close(self) -> None:
        """Refuse new frames and wake everybody; ``take`` still drains what waits."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def idle(self) -> bool:
        """Nothing waits and nothing is in flight."""
        with self._cond:
            return not any(lane.queue or lane.in_flight for lane in self._lanes.values())

    def stats(self, recent_s: float = 60.0) -> SchedulerStats:
        with self._cond:
            now = self._clock_us()
            cams = {c: _lane_stats(lane, now, recent_s) for c, lane in self._lanes.items()}
        depth = sum(c.depth for c in cams.values())
        return SchedulerStats(depth, sum(c.in_flight for c in cams.values()), cams)


def _lane_stats(lane: _Lane, now: int, recent_s: float) -> LaneStats:
    p50 = p99 = 0.0
    if lane.ages:
        p50, p99 = (float(v) for v in np.percentile(np.fromiter(lane.ages, float), [50, 99]))
    recent = lane.last_drop_reason and now - lane.last_drop_us <= recent_s * 1_000_000
    window_us = FPS_WINDOW_S * 1_000_000
    taken_recently = sum(1 for t in lane.taken_at if now - t <= window_us)
    return LaneStats(
        offered=lane.offered,
        taken=lane.taken,
        depth=len(lane.queue),
        in_flight=lane.in_flight,
        dropped={r: lane.dropped[r] for r in REASONS if lane.dropped[r]},
        age_p50_s=p50,
        age_p99_s=p99,
        lag_reason=lane.last_drop_reason if recent else "",
        fps=taken_recently / FPS_WINDOW_S,
    )


def start_sources(sources: Sequence[FrameSource]) -> None:
    """Start every source at once (a camera that is slow to answer must not delay
    the others); the first error, if any, is raised after all have returned."""
    if not sources:
        return
    with ThreadPoolExecutor(len(sources), thread_name_prefix="source-start") as pool:
        futures = [pool.submit(s.start) for s in sources]
    for f in futures:
        f.result()


def worker_count(config: SchedulerConfig, cores: int | None) -> int:
    """``workers``, or one per core when 0."""
    return config.workers or max(1, cores or 1)


def runtime_for_workers(runtime: RuntimeConfig, workers: int) -> RuntimeConfig:
    """Several workers already run inferences side by side: an intra-op pool per
    session would only make them fight over the same cores (an explicit
    ``intra_op_threads`` is kept; spinning stays as configured, off by default)."""
    if workers > 1 and not runtime.intra_op_threads:
        return runtime.model_copy(update={"intra_op_threads": 1})
    return runtime
