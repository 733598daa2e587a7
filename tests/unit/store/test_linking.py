"""The store's chain policy: every non-plain link keeps its state and a note."""

from __future__ import annotations

from edge.evidence.model import GENESIS_HASH, event_hash
from edge.store.linking import classify_link
from edge.store.repository import ChainHead
from tests.support.samples import sample_chain


def test_next_event_is_ok_and_advances() -> None:
    (e1, _), (e2, _) = sample_chain(2)
    d = classify_link(e2, ChainHead(1, event_hash(e1)), lambda s: None)
    assert (d.integrity, d.advance, d.note) == ("ok", True, "")


def test_gap_advances_with_a_note() -> None:
    chain = [e for e, _ in sample_chain(3)]
    d = classify_link(chain[2], ChainHead(1, event_hash(chain[0])), lambda s: None)
    assert d.integrity == "gap" and d.advance and "expected sequence 2, got 3" in d.note


def test_late_event_that_links_backwards_is_ok_without_advancing() -> None:
    chain = [e for e, _ in sample_chain(3)]
    stored = {1: event_hash(chain[0]), 3: event_hash(chain[2])}
    d = classify_link(chain[1], ChainHead(3, event_hash(chain[2])), stored.get)
    assert d.integrity == "ok" and not d.advance and "late" in d.note


def test_late_event_without_predecessor_is_a_gap() -> None:
    chain = [e for e, _ in sample_chain(3)]
    d = classify_link(chain[1], ChainHead(3, event_hash(chain[2])), {3: "x"}.get)
    assert d.integrity == "gap" and not d.advance


def test_other_event_at_a_taken_sequence_is_a_fork() -> None:
    chain = [e for e, _ in sample_chain(2)]
    d = classify_link(chain[1], ChainHead(2, "f" * 64), {2: "f" * 64}.get)
    assert d.integrity == "fork" and not d.advance


def test_wrong_prev_hash_at_next_sequence_is_a_fork_that_advances() -> None:
    chain = [e for e, _ in sample_chain(2)]
    d = classify_link(chain[1], ChainHead(1, GENESIS_HASH), lambda s: None)
    assert d.integrity == "fork" and d.advance
