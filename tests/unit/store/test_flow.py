"""The ingest path's small concurrency helpers: per-stream budget, work beside."""

from __future__ import annotations

import threading
import time

import pytest

from edge.store.flow import Beside, Budget


def test_budget_holds_the_reader_back_above_either_limit() -> None:
    budget = Budget(events=4, size=1000)
    budget.take(3, 100)
    took = threading.Event()

    def reader() -> None:
        budget.take(2, 100)  # 5 events > 4: waits for acks
        took.set()

    threading.Thread(target=reader, daemon=True).start()
    assert not took.wait(0.1)
    budget.give(3, 100)
    assert took.wait(2)
    budget.take(0, 900)  # 1,000 bytes: at the limit, allowed
    blocked = threading.Event()
    threading.Thread(target=lambda: (budget.take(1, 1), blocked.set()), daemon=True).start()
    assert not blocked.wait(0.1)
    budget.give(2, 1000)
    assert blocked.wait(2)


def test_budget_lets_one_oversized_batch_through_when_nothing_waits() -> None:
    budget = Budget(events=4, size=1000)
    budget.take(10, 5000)  # alone: goes, or a big batch would wait for ever
    budget.give(10, 5000)


def test_beside_runs_at_once_and_join_raises_what_the_work_raised() -> None:
    started = threading.Event()

    def work() -> None:
        started.set()
        time.sleep(0.05)
        raise OSError(28, "No space left on device")

    beside = Beside(work, "blob-writer")
    beside.start()
    assert started.wait(2)  # runs while the caller does its own part
    beside.wait()  # only waits
    with pytest.raises(OSError, match="No space left"):
        beside.join()


def test_beside_join_returns_after_the_work_is_done() -> None:
    done: list[int] = []
    beside = Beside(lambda: done.append(1), "w")
    beside.start()
    beside.join()
    assert done == [1]
