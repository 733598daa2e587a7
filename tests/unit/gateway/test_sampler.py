"""Analysis-rate sampling and the bounded, fair frame queue."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.gateway.sampler import FrameQueue, RateSampler, SamplerConfig
from edge.gateway.sources import Frame

IMG = np.zeros((2, 2, 3), np.uint8)


def frame(camera: str, index: int) -> Frame:
    return Frame(camera, index, 1_000 + index, IMG, "test")


def _admitted(sampler: RateSampler, times: list[int]) -> list[int]:
    return [i for i, t in enumerate(times) if sampler.admit(t)]


def test_25fps_sampled_to_5fps_takes_every_fifth_frame() -> None:
    s = RateSampler(5.0)
    assert _admitted(s, [i * 40_000 for i in range(100)]) == list(range(0, 100, 5))
    assert (s.admitted, s.skipped) == (20, 80)


def test_30fps_to_10fps_does_not_drift_on_rounding() -> None:
    times = [round(i * 1_000_000 / 30) for i in range(300)]
    assert _admitted(RateSampler(10.0), times) == list(range(0, 300, 3))


def test_jittery_stream_keeps_the_rate() -> None:
    rng = random.Random(3)
    times = [i * 40_000 + rng.randint(-6_000, 6_000) for i in range(250)]  # 10 s at 25 fps
    n = len(_admitted(RateSampler(5.0), times))
    assert 48 <= n <= 52


def test_slow_source_and_gaps() -> None:
    assert _admitted(RateSampler(5.0), [i * 500_000 for i in range(10)]) == list(range(10))
    s = RateSampler(5.0)
    times = [0, 40_000, 200_000, 10_000_000, 10_040_000, 10_200_000]
    assert _admitted(s, times) == [0, 2, 3, 5]  # after the gap the schedule restarts


def test_no_rate_admits_everything_and_bad_rate_is_refused() -> None:
    assert _admitted(RateSampler(None), [0, 1, 2]) == [0, 1, 2]
    with pytest.raises(ConfigError, match="fps"):
        RateSampler(0.0)


def test_live_frames_drop_oldest_and_are_counted() -> None:
    dropped: list[Frame] = []
    q = FrameQueue(SamplerConfig(queue_per_camera=2), on_drop=dropped.append)
    for i in range(5):
        assert q.put(frame("a", i), live=True)
    assert [f.index for f in dropped] == [0, 1, 2]
    assert q.stats().dropped_by_camera == {"a": 3} and q.stats().depth == 2
    assert [q.get(0).index, q.get(0).index] == [3, 4]  # type: ignore[union-attr]
    assert q.get(0.01) is None


def test_recorded_frames_wait_instead_of_dropping() -> None:
    q = FrameQueue(SamplerConfig(queue_per_camera=1))
    assert q.put(frame("f", 0), live=False)
    assert not q.put(frame("f", 1), live=False, timeout_s=0.05)
    threading.Timer(0.1, q.get, args=(0,)).start()
    t0 = time.monotonic()
    assert q.put(frame("f", 1), live=False, timeout_s=5.0)
    assert 0.05 < time.monotonic() - t0 < 4.0
    assert q.stats().dropped == 0 and q.get(0).index == 1  # type: ignore[union-attr]


def test_cameras_are_served_round_robin() -> None:
    q = FrameQueue(SamplerConfig(queue_per_camera=10))
    for i in range(4):
        q.put(frame("busy", i), live=True)
    q.put(frame("quiet", 0), live=True)
    order = [(f.camera_id, f.index) for f in iter(lambda: q.get(0), None)]
    assert order[:2] == [("busy", 0), ("quiet", 0)] and len(order) == 5


def test_close_wakes_waiters() -> None:
    q = FrameQueue(SamplerConfig(queue_per_camera=1))
    q.put(frame("f", 0), live=False)
    results: list[object] = []
    putter = threading.Thread(target=lambda: results.append(q.put(frame("f", 1), live=False)))
    putter.start()
    time.sleep(0.05)
    q.close()
    putter.join(2)
    assert results == [False]
    assert q.get(None) is not None and q.get(None) is None  # drains, then ends
