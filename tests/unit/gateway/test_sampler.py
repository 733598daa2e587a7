"""Analysis-rate sampling (the bounded, fair hand-over is tested in test_scheduler)."""

from __future__ import annotations

import random

import pytest

from edge.errors import ConfigError
from edge.gateway.sampler import RateSampler


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
