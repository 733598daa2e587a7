"""Group commit with real threads: grouping, order, results and failures."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from edge.store.group_commit import GroupCommit


class Recorder:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.groups: list[list[int]] = []
        self.gate = gate
        self.started = threading.Event()

    def commit(self, items: Sequence[int]) -> list[int]:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.groups.append(list(items))
        return [i * 10 for i in items]


def test_items_queued_during_a_commit_form_the_next_group() -> None:
    gate = threading.Event()
    rec = Recorder(gate)
    group: GroupCommit[int, int] = GroupCommit(rec.commit, most=3)
    first = group.submit(0)
    leader = threading.Thread(target=group.wait, args=(first,))
    leader.start()  # commits [0], held at the gate
    assert rec.started.wait(10)
    later = [group.submit(i) for i in range(1, 6)]
    gate.set()
    assert [group.wait(t) for t in later] == [10, 20, 30, 40, 50]
    leader.join()
    assert rec.groups == [[0], [1, 2, 3], [4, 5]]


def test_many_threads_each_get_their_own_result() -> None:
    rec = Recorder()
    group: GroupCommit[int, int] = GroupCommit(rec.commit)
    results: dict[int, int] = {}

    def run(n: int) -> None:
        for i in range(n * 100, n * 100 + 50):
            results[i] = group.wait(group.submit(i))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: i * 10 for i in results} and len(results) == 400
    assert sorted(i for g in rec.groups for i in g) == sorted(results)


def test_a_failed_commit_fails_its_whole_group_and_the_next_one_works() -> None:
    calls = []

    def commit(items: Sequence[str]) -> list[str]:
        calls.append(list(items))
        if "bad" in items:
            raise OSError("disk full")
        return [s.upper() for s in items]

    group: GroupCommit[str, str] = GroupCommit(commit)
    a, b = group.submit("ok"), group.submit("bad")
    with pytest.raises(OSError, match="disk full"):
        group.wait(a)
    with pytest.raises(OSError, match="disk full"):
        group.wait(b)
    assert group.wait(group.submit("fine")) == "FINE"
    assert calls == [["ok", "bad"], ["fine"]]
