"""The ingest path's per-stream budget of events and bytes waiting for acks."""

from __future__ import annotations

import threading

from edge.store.flow import Budget


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
