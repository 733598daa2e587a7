from __future__ import annotations

import dataclasses

from edge.evidence.chain import ChainState, check_link, verify_segment
from edge.evidence.model import GENESIS_HASH, event_hash


def test_first_event_links_to_genesis(make_event) -> None:
    e, _ = make_event(1)
    v = check_link(ChainState.genesis(), e)
    assert v.ok and v.status == "ok" and v.detail == ""
    assert ChainState.genesis().after(e) == ChainState(1, event_hash(e))


def test_next_event_ok_and_wrong_prev_hash_is_fork(make_chain) -> None:
    (e1, _), (e2, _) = make_chain(2)
    head = ChainState(1, event_hash(e1))
    assert check_link(head, e2).status == "ok"
    bad = dataclasses.replace(e2, prev_hash="a" * 64)
    v = check_link(head, bad)
    assert v.status == "fork"
    assert v.expected_prev_hash == event_hash(e1)
    assert v.got_prev_hash == "a" * 64
    assert "sequence 2" in v.detail


def test_sequence_jump_is_gap_with_expected_and_got(make_chain) -> None:
    chain = make_chain(5)
    head = ChainState(2, event_hash(chain[1][0]))
    v = check_link(head, chain[4][0])
    assert v.status == "gap"
    assert (v.expected_sequence, v.got_sequence) == (3, 5)
    assert "expected sequence 3, got 5" in v.detail


def test_same_event_again_is_replay_and_different_event_same_sequence_is_fork(
    make_chain, make_event
) -> None:
    (e1, _), (e2, _), (e3, _) = make_chain(3)
    head = ChainState(3, event_hash(e3))
    assert check_link(head, e3).status == "replay"
    assert check_link(head, e2, stored_hash=event_hash(e2)).status == "replay"
    assert check_link(head, e2).status == "replay"  # nothing to compare: not provable fork
    other2, _ = make_event(2, event_hash(e1), camera_id="cam-9")
    assert check_link(head, other2, stored_hash=event_hash(e2)).status == "fork"
    other3 = dataclasses.replace(e3, camera_id="cam-9")
    assert check_link(head, other3).status == "fork"


def test_sequence_zero_is_never_ok(make_event) -> None:
    e, _ = make_event(0)
    assert check_link(ChainState.genesis(), e).status == "fork"


def test_verify_segment_intact_and_each_kind_of_break(make_chain, make_event) -> None:
    events = [e for e, _ in make_chain(6)]
    assert verify_segment(events) == []
    assert verify_segment(events[2:]) == []  # without a start, the first is taken as given
    assert verify_segment(events[2:], ChainState(2, event_hash(events[1]))) == []

    missing = events[:2] + events[3:]
    (gap,) = verify_segment(missing)
    assert (gap.status, gap.expected_sequence, gap.got_sequence) == ("gap", 3, 4)

    altered = list(events)
    altered[2] = dataclasses.replace(events[2], camera_id="cam-x")  # breaks link 3 -> 4
    (fork,) = verify_segment(altered)
    assert (fork.status, fork.got_sequence) == ("fork", 4)

    foreign, _ = make_event(7, event_hash(events[5]), gateway_id="gw-2")
    (other,) = verify_segment([*events, foreign])
    assert other.status == "fork" and "gw-2" in other.detail


def test_first_event_of_chain_must_point_to_genesis(make_event) -> None:
    e, _ = make_event(1, prev_hash="b" * 64)
    (v,) = verify_segment([e])
    assert v.status == "fork" and v.expected_prev_hash == GENESIS_HASH
