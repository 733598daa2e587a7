"""The inference scheduler's rules (pure logic, a fake wall clock)."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from pydantic import ValidationError

from edge.config import RuntimeConfig
from edge.gateway.config import SchedulerConfig
from edge.gateway.scheduler import (
    InferenceScheduler,
    runtime_for_workers,
    start_sources,
    worker_count,
)
from edge.gateway.sources import Frame, SourceStats
from edge.vision.runtime import session_options

IMG = np.zeros((2, 2, 3), np.uint8)


class Clock:
    def __init__(self) -> None:
        self.us = 1_000_000_000

    def __call__(self) -> int:
        return self.us

    def advance(self, seconds: float) -> None:
        self.us += round(seconds * 1_000_000)


def _frame(clock: Clock, camera: str, index: int) -> Frame:
    return Frame(camera, index, clock.us, IMG, "test")


def _sched(
    clock: Clock, dropped: list[tuple[str, int, str]] | None = None, **cfg: float
) -> InferenceScheduler:
    def on_drop(f: Frame, reason: str) -> None:
        if dropped is not None:
            dropped.append((f.camera_id, f.index, reason))

    return InferenceScheduler(SchedulerConfig(**cfg), clock_us=clock, on_drop=on_drop)


def _take(s: InferenceScheduler) -> tuple[str, int]:
    t = s.take(0)
    assert t is not None
    return t.frame.camera_id, t.frame.index


def test_live_overflow_keeps_the_newest_and_counts_queue_full() -> None:
    clock, dropped = Clock(), []
    s = _sched(clock, dropped, queue_per_camera=2)
    for i in range(5):
        assert s.offer(_frame(clock, "a", i), live=True)
    assert dropped == [("a", 0, "queue_full"), ("a", 1, "queue_full"), ("a", 2, "queue_full")]
    assert _take(s) == ("a", 3)
    st = s.stats().cameras["a"]
    assert (st.dropped, st.depth, st.in_flight, st.lag_reason) == (
        {"queue_full": 3},
        1,
        True,
        "queue_full",
    )


def test_one_frame_per_camera_in_flight() -> None:
    clock = Clock()
    s = _sched(clock, queue_per_camera=4)
    for i in range(3):
        s.offer(_frame(clock, "a", i), live=True)
    assert _take(s) == ("a", 0)
    assert s.take(0) is None  # a's next frame waits until a's first is done
    s.done("a", moving=False)
    assert _take(s) == ("a", 1)


def test_moving_cameras_first_then_the_longest_waiting() -> None:
    clock = Clock()
    s = _sched(clock, queue_per_camera=4)
    for cam in ("a", "b", "c"):
        s.offer(_frame(clock, cam, 0), live=True)
        s.done(cam, moving=cam == "c")
        clock.advance(0.01)
    assert [_take(s), _take(s), _take(s)] == [("c", 0), ("a", 0), ("b", 0)]


def test_still_cameras_are_served_in_waiting_order() -> None:
    clock = Clock()
    s = _sched(clock, queue_per_camera=10)
    for i in range(3):
        s.offer(_frame(clock, "busy", i), live=True)
        clock.advance(0.01)
    s.offer(_frame(clock, "quiet", 0), live=True)
    assert _take(s) == ("busy", 0)
    s.done("busy", moving=False)
    clock.advance(0.01)
    # busy's next frame waited longer than quiet's: it goes first, then quiet
    assert [_take(s), _take(s)] == [("busy", 1), ("quiet", 0)]


def test_live_frames_too_old_are_dropped_and_the_age_is_measured() -> None:
    clock, dropped = Clock(), []
    s = _sched(clock, dropped, queue_per_camera=4, max_frame_age_s=2.0)
    s.offer(_frame(clock, "a", 0), live=True)
    clock.advance(1.0)
    s.offer(_frame(clock, "a", 1), live=True)
    clock.advance(1.5)  # frame 0 is 2.5 s old, frame 1 1.5 s
    t = s.take(0)
    assert t is not None and t.frame.index == 1 and t.age_s == pytest.approx(1.5)
    assert dropped == [("a", 0, "too_old")]
    st = s.stats().cameras["a"]
    assert st.dropped == {"too_old": 1} and st.age_p99_s == pytest.approx(1.5)
    assert st.fps == pytest.approx(0.1)  # one frame in the last 10 s
    clock.advance(10.5)
    assert s.stats().cameras["a"].fps == 0.0


def test_recorded_frames_are_never_dropped_they_wait() -> None:
    clock, dropped = Clock(), []
    s = _sched(clock, dropped, queue_per_camera=1, max_frame_age_s=1.0)
    assert s.offer(_frame(clock, "f", 0), live=False)
    assert not s.offer(_frame(clock, "f", 1), live=False, timeout_s=0.01)
    clock.advance(60.0)
    t = s.take(0)
    assert t is not None and t.frame.index == 0 and t.age_s == pytest.approx(60.0)
    assert s.offer(_frame(clock, "f", 1), live=False, timeout_s=0.01)
    assert dropped == [] and s.stats().dropped == 0


def test_a_waiting_recorded_reader_is_let_in_when_a_frame_is_taken() -> None:
    clock = Clock()
    s = _sched(clock, queue_per_camera=1)
    s.offer(_frame(clock, "f", 0), live=False)
    result: list[bool] = []
    reader = threading.Thread(
        target=lambda: result.append(s.offer(_frame(clock, "f", 1), live=False, timeout_s=10))
    )
    reader.start()
    assert _take(s) == ("f", 0)
    reader.join(10)
    assert result == [True]


def test_drops_are_warned_about_rate_limited_naming_cameras_and_reasons(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    s = _sched(clock, queue_per_camera=1)
    with caplog.at_level(logging.WARNING, logger="edge.gateway.scheduler"):
        for i in range(3):
            s.offer(_frame(clock, "cam-7", i), live=True)
        clock.advance(11.0)
        s.offer(_frame(clock, "cam-2", 0), live=True)
        s.offer(_frame(clock, "cam-2", 1), live=True)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "recognition behind; frames dropped on cam-7 (queue_full)",
        "recognition behind; frames dropped on cam-2 (queue_full), cam-7 (queue_full)",
    ]
    assert warnings[1].lagging == {"cam-2": {"queue_full": 1}, "cam-7": {"queue_full": 1}}


def test_close_drains_then_ends_and_refuses_new_frames() -> None:
    clock = Clock()
    s = _sched(clock)
    s.offer(_frame(clock, "a", 0), live=True)
    s.close()
    assert not s.offer(_frame(clock, "a", 1), live=True)
    assert _take(s) == ("a", 0)
    s.done("a", moving=False)
    assert s.take(None) is None and s.idle()


def test_config_is_strict_and_names_the_bad_value() -> None:
    with pytest.raises(ValidationError, match="max_frame_age_s"):
        SchedulerConfig(max_frame_age_s=0)
    with pytest.raises(ValidationError, match="workers"):
        SchedulerConfig(workers=-1)
    assert (
        worker_count(SchedulerConfig(), 2) == 2 and worker_count(SchedulerConfig(workers=3), 2) == 3
    )


class _SlowToConnect:
    """start() returns only once every source has entered start(): it deadlocks (and
    the barrier times out) unless the sources are started side by side."""

    def __init__(self, camera_id: str, barrier: threading.Barrier) -> None:
        self.camera_id = camera_id
        self.live = True
        self.finished = False
        self._barrier = barrier

    def start(self) -> None:
        self._barrier.wait()

    def stop(self) -> None: ...

    def drain(self) -> None: ...

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        return None

    def ack(self, frame: Frame) -> None: ...

    def stats(self) -> SourceStats:
        raise NotImplementedError


def test_cameras_connect_in_parallel() -> None:
    barrier = threading.Barrier(8, timeout=10)
    start_sources([_SlowToConnect(f"cam-{i}", barrier) for i in range(8)])
    assert not barrier.broken


def test_a_source_that_fails_to_start_is_reported() -> None:
    class Broken(_SlowToConnect):
        def start(self) -> None:
            raise RuntimeError("cannot open")

    with pytest.raises(RuntimeError, match="cannot open"):
        start_sources([Broken("cam-1", threading.Barrier(1))])


def test_several_workers_run_single_threaded_sessions_without_spinning() -> None:
    opts = session_options(runtime_for_workers(RuntimeConfig(), 2))
    assert opts.intra_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert runtime_for_workers(RuntimeConfig(), 1).intra_op_threads == 0
    assert runtime_for_workers(RuntimeConfig(intra_op_threads=2), 2).intra_op_threads == 2


def test_a_still_camera_is_not_starved_by_moving_ones() -> None:
    """Under load, moving cameras always have a frame waiting; a still camera's frame
    must still be taken before it grows too old (its 'still' is only ever revised by
    analysing one of its frames)."""
    clock, dropped = Clock(), []
    s = _sched(clock, dropped, queue_per_camera=2, max_frame_age_s=2.0)
    s.done("still", moving=False)
    s.offer(_frame(clock, "still", 0), live=True)
    taken: list[str] = []
    for step in range(40):  # 4 s: a moving camera's newer frame waits at every pick
        for cam in ("m1", "m2"):
            s.done(cam, moving=True)
            s.offer(_frame(clock, cam, step), live=True)
        clock.advance(0.1)
        cam, _ = _take(s)
        taken.append(cam)
        s.done(cam, moving=cam != "still")
    assert "still" in taken
    assert not [d for d in dropped if d[0] == "still"]


def test_moving_head_start_is_half_the_frame_age() -> None:
    clock = Clock()
    s = _sched(clock, queue_per_camera=4, max_frame_age_s=2.0)
    s.done("still", moving=False)
    s.offer(_frame(clock, "still", 0), live=True)
    clock.advance(0.9)
    s.done("moving", moving=True)
    s.offer(_frame(clock, "moving", 0), live=True)
    assert _take(s) == ("moving", 0)  # waited 0.9 s less, within the 1 s head start
    s.done("moving", moving=True)
    clock.advance(0.2)
    s.offer(_frame(clock, "moving", 1), live=True)
    s.offer(_frame(clock, "still", 1), live=True)
    assert _take(s) == ("still", 0)  # now waiting 1.1 s: more than the head start


def test_a_camera_whose_frames_keep_being_replaced_is_still_served() -> None:
    """queue_full replaces a waiting frame by a newer one; the camera's turn must not
    start over each time (measured: 2 of 8 live cameras analysed 2 frames in a minute)."""
    clock = Clock()
    s = _sched(clock, queue_per_camera=1, max_frame_age_s=2.0)
    cams = [f"c{i}" for i in range(4)]
    served: dict[str, int] = dict.fromkeys(cams, 0)
    for step in range(200):  # 25 fps offers, a worker that takes one frame per 40 ms
        for cam in cams:
            s.offer(_frame(clock, cam, step), live=True)
        clock.advance(0.04)
        taken = s.take(0)
        if taken is not None:
            served[taken.frame.camera_id] += 1
            s.done(taken.frame.camera_id, moving=True)
    assert min(served.values()) >= 40, served
