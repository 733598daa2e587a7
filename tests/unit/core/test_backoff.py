"""The one retry schedule (edge/backoff.py), with seeded generators."""

from __future__ import annotations

import random

import pytest

from edge.backoff import Backoff, backoff_delay


def test_full_jitter_spreads_over_the_whole_window_below_a_doubling_cap() -> None:
    rng = random.Random(7)
    for attempt, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (40, 30.0)]:
        draws = [backoff_delay(attempt, 0.5, 30.0, 1.0, rng) for _ in range(400)]
        assert all(0.0 <= d <= cap for d in draws)
        # full jitter: the draws cover [0, cap], not only its upper half
        assert min(draws) < 0.1 * cap and max(draws) > 0.9 * cap
        assert 0.4 * cap < sum(draws) / len(draws) < 0.6 * cap


def test_partial_jitter_stays_near_the_cap_and_zero_jitter_is_exact() -> None:
    rng = random.Random(3)
    draws = [backoff_delay(2, 1.0, 8.0, 0.25, rng) for _ in range(200)]
    assert all(3.0 <= d <= 4.0 for d in draws) and len(set(draws)) > 100
    assert [backoff_delay(n, 0.1, 0.4, 0.0) for n in range(4)] == [0.1, 0.2, 0.4, 0.4]


def test_seeded_schedules_repeat_and_reset_starts_over() -> None:
    a = Backoff(1.0, 60.0, rng=random.Random(42))
    b = Backoff(1.0, 60.0, rng=random.Random(42))
    first = [a.next_delay() for _ in range(8)]
    assert first == [b.next_delay() for _ in range(8)]
    expected = random.Random(42)
    caps = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert first == [c - c * expected.random() for c in caps]
    a.reset()
    assert a.next_delay() <= 1.0


def test_many_failures_neither_overflow_nor_exceed_the_maximum() -> None:
    b = Backoff(0.5, 30.0, jitter=0.0)
    delays = [b.next_delay() for _ in range(5000)]
    assert delays[-1] == 30.0 and max(delays) == 30.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 1.0, 2.0, 1.0), "attempt must be >= 0 (got -1)"),
        ((0, 0.0, 2.0, 1.0), "need 0 < initial <= maximum (got 0.0, 2.0)"),
        ((0, 3.0, 2.0, 1.0), "need 0 < initial <= maximum (got 3.0, 2.0)"),
        ((0, 1.0, 2.0, 1.5), "jitter must be 0..1 (got 1.5)"),
    ],
)
def test_bad_arguments_are_named(args: tuple[int, float, float, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        backoff_delay(*args)
