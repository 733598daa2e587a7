"""The durable outbox and its hash chain on real SQLite files."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from edge.errors import EvidenceError, OutboxFullError, StoreError
from edge.evidence.model import GENESIS_HASH, event_hash
from edge.gateway.chainstate import ChainLink, verify_links
from edge.gateway.config import OutboxConfig
from edge.gateway.outbox import Outbox


def _open(path: Path, **cfg: object) -> Outbox:
    box = Outbox(path, OutboxConfig.model_validate(cfg))
    box.open()
    return box


def test_append_pending_ack_and_chain_across_reopen(kit: Any, tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = _open(path)
    assert box.next_link() == ChainLink(1, GENESIS_HASH)
    entries = [box.append_event(kit.builder()) for _ in range(5)]
    assert [e.sequence for e in entries] == [1, 2, 3, 4, 5]
    box.close()

    box = _open(path)
    assert box.head().sequence == 5
    more = [box.append_event(kit.builder()) for _ in range(3)]
    assert [e.sequence for e in more] == [6, 7, 8]
    events = [kit.decode(e.payload) for e in box.pending(limit=100)]
    assert [e.sequence for e in events] == list(range(1, 9))
    assert verify_links(events) == box.next_link()
    assert all(
        event_hash(ev) == en.event_hash for ev, en in zip(events, entries + more, strict=True)
    )

    assert box.ack(entries[0].event_id) and not box.ack(entries[0].event_id)
    assert [e.sequence for e in box.pending(limit=2)] == [2, 3]
    assert [e.sequence for e in box.pending(limit=2, after_sequence=6)] == [7, 8]
    stats = box.stats()
    assert (stats.pending_events, stats.head_sequence, stats.acked) == (7, 8, 1)
    box.close()
    # acking everything does not reset the chain: the head survives an empty outbox
    box = _open(path)
    for e in box.pending(limit=100):
        box.ack(e.event_id)
    box.close()
    box = _open(path)
    assert box.next_link().sequence == 9 and box.stats().pending_events == 0
    box.close()


def test_commit_refuses_events_that_do_not_extend_the_chain(kit: Any, tmp_path: Path) -> None:
    box = _open(tmp_path / "o.sqlite")
    first = kit.make_event(1, GENESIS_HASH)
    box.commit(first, b"p1")
    with pytest.raises(EvidenceError, match="does not extend the chain"):
        box.commit(kit.make_event(3, event_hash(first)), b"p")
    with pytest.raises(EvidenceError, match="does not extend the chain"):
        box.commit(kit.make_event(2, GENESIS_HASH), b"p")
    with pytest.raises(EvidenceError, match="gateway"):
        box.commit(kit.make_event(2, event_hash(first), gateway="other"), b"p")
    dup = kit.make_event(2, event_hash(first))
    with pytest.raises(EvidenceError, match="already in the outbox"):
        box.commit(dup.__class__(**{**_fields(dup), "event_id": first.event_id}), b"p")
    assert box.stats().pending_events == 1 and box.next_link().sequence == 2
    box.commit(kit.make_event(2, event_hash(first)), b"p2")
    assert [e.sequence for e in box.pending()] == [1, 2]
    box.close()


def _fields(e: object) -> dict[str, object]:
    return {k: getattr(e, k) for k in e.__slots__}  # type: ignore[attr-defined]


def test_failing_builder_stores_nothing(kit: Any, tmp_path: Path) -> None:
    box = _open(tmp_path / "o.sqlite")

    def broken(sequence: int, prev_hash: str) -> tuple[object, bytes]:
        raise RuntimeError("signing failed")

    with pytest.raises(RuntimeError):
        box.append_event(broken)  # type: ignore[arg-type]
    assert box.next_link() == ChainLink(1, GENESIS_HASH) and box.pending() == []
    box.close()


def test_second_process_cannot_open_the_same_outbox(kit: Any, tmp_path: Path) -> None:
    box = _open(tmp_path / "o.sqlite")
    with pytest.raises(StoreError, match="in use by another process"):
        _open(tmp_path / "o.sqlite")
    box.close()
    _open(tmp_path / "o.sqlite").close()


def test_max_events_refuses_loudly_and_recovers(
    kit: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = _open(tmp_path / "o.sqlite", max_events=10)
    stored = [box.append_event(kit.builder()) for _ in range(10)]
    with caplog.at_level(logging.ERROR, logger="edge.gateway.outbox"):
        for _ in range(3):
            with pytest.raises(OutboxFullError, match="max_events is 10"):
                box.append_event(kit.builder())
    assert len([r for r in caplog.records if "OUTBOX FULL" in r.getMessage()]) == 1
    stats = box.stats()
    assert stats.full and stats.refused_full == 3 and stats.pending_events == 10
    box.ack(stored[0].event_id)
    entry = box.append_event(kit.builder())
    assert entry.sequence == 11 and not box.stats().full
    verify_links(
        [kit.decode(e.payload) for e in box.pending(100)], ChainLink(2, stored[0].event_hash)
    )
    box.close()


def test_max_bytes_bound(kit: Any, tmp_path: Path) -> None:
    box = _open(tmp_path / "o.sqlite", max_bytes=1 << 20)
    n = 0
    with pytest.raises(OutboxFullError, match="max_bytes"):
        while True:
            box.append_event(kit.builder(pad=100_000))
            n += 1
    assert n == 10 and box.stats().pending_bytes <= 1 << 20
    box.close()


def test_block_policy_waits_for_an_ack(kit: Any, tmp_path: Path) -> None:
    box = _open(tmp_path / "o.sqlite", max_events=10, when_full="block")
    first = [box.append_event(kit.builder()) for _ in range(10)]
    with pytest.raises(OutboxFullError):
        box.append_event(kit.builder(), block_timeout_s=0.05)
    timer = threading.Timer(0.2, box.ack, args=(first[0].event_id,))
    timer.start()
    assert box.append_event(kit.builder(), block_timeout_s=5.0).sequence == 11
    timer.join()
    box.close()


def test_real_disk_full_is_refused_and_recovers(kit: Any, tmpfs_dir: Path) -> None:
    filler = tmpfs_dir / "filler"
    filler.write_bytes(b"\0" * (600 << 10))
    box = _open(tmpfs_dir / "outbox.sqlite", max_bytes=1 << 30)
    committed = []
    with pytest.raises(OutboxFullError, match="disk is full"):
        for _ in range(100):
            committed.append(box.append_event(kit.builder(pad=50_000)))
    assert 5 < len(committed) < 40 and box.stats().disk_full == 1
    # still full: refused again, the chain does not move
    with pytest.raises(OutboxFullError):
        box.append_event(kit.builder(pad=50_000))
    assert box.next_link().sequence == len(committed) + 1
    filler.unlink()  # space comes back
    later = [box.append_event(kit.builder(pad=50_000)) for _ in range(3)]
    assert [e.sequence for e in later] == [len(committed) + i for i in (1, 2, 3)]
    box.close()

    box = _open(tmpfs_dir / "outbox.sqlite")
    events = [kit.decode(e.payload) for e in box.pending(limit=1000)]
    assert [e.event_id for e in events] == [e.event_id for e in committed + later]
    verify_links(events)
    box.close()
    conn = sqlite3.connect(tmpfs_dir / "outbox.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_ack_many_deletes_a_reply_worth_of_events_in_one_go(kit: Any, tmp_path: Path) -> None:
    box = _open(tmp_path / "outbox.sqlite")
    entries = [box.append_event(kit.builder(pad=100)) for _ in range(6)]
    ids = [e.event_id for e in entries]
    assert box.ack_many([*ids[:4], "not-stored"]) == 4  # an unknown id is no error
    assert box.ack_many([]) == 0
    stats = box.stats()
    assert (stats.pending_events, stats.acked) == (2, 4)
    assert stats.pending_bytes == sum(len(e.payload) for e in entries[4:])
    assert [e.sequence for e in box.pending()] == [5, 6]
    box.close()
    box = _open(tmp_path / "outbox.sqlite")  # the deletions were committed
    assert [e.event_id for e in box.pending()] == ids[4:]
    box.close()
