"""The per-gateway hash chain: pure checks of how an event links to what came before.

Each gateway numbers its events 1, 2, 3, ... and puts the ``event_hash`` of event n-1
into event n's ``prev_hash`` (``GENESIS_HASH`` for n = 1). A verifier that holds the
head of the chain (last sequence and hash) classifies the next event:

- ``ok``: sequence = head + 1 and prev_hash = head hash;
- ``gap``: sequence > head + 1 (events in between are missing; expected vs got kept);
- ``fork``: sequence = head + 1 but prev_hash differs, or a sequence already taken
  arrives with a different hash (two different events claim one place in the chain);
- ``replay``: a sequence at or below the head arrives again with the stored hash (or
  with no stored hash to compare against).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edge.evidence.model import GENESIS_HASH, MatchEvent, event_hash

LinkStatus = Literal["ok", "gap", "fork", "replay"]


@dataclass(frozen=True, slots=True)
class ChainState:
    """Head of one gateway's chain; sequence 0 with GENESIS_HASH = nothing yet."""

    last_sequence: int
    last_hash: str

    @staticmethod
    def genesis() -> ChainState:
        return ChainState(0, GENESIS_HASH)

    def after(self, event: MatchEvent) -> ChainState:
        """The head once ``event`` is accepted as the newest link."""
        return ChainState(event.sequence, event_hash(event))


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    status: LinkStatus
    expected_sequence: int
    got_sequence: int
    expected_prev_hash: str | None  # None when it cannot be known (gap, old sequence)
    got_prev_hash: str
    detail: str  # one line for reviewers and logs (no personal data)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check_link(
    state: ChainState, event: MatchEvent, stored_hash: str | None = None
) -> ChainVerdict:
    """Classify ``event`` against the chain head ``state``.

    ``stored_hash`` is the hash the verifier already holds for ``event.sequence`` when
    that sequence is at or below the head (the store looks it up); it tells a harmless
    replay from a fork.
    """
    expected = state.last_sequence + 1
    seq = event.sequence

    def verdict(status: LinkStatus, prev: str | None, detail: str) -> ChainVerdict:
        return ChainVerdict(status, expected, seq, prev, event.prev_hash, detail)

    if seq < 1:
        return verdict("fork", None, f"sequence {seq} is not a chain position (starts at 1)")
    if seq == expected:
        if event.prev_hash == state.last_hash:
            return verdict("ok", state.last_hash, "")
        return verdict(
            "fork",
            state.last_hash,
            f"fork at sequence {seq}: prev_hash {event.prev_hash[:16]} "
            f"!= hash of sequence {state.last_sequence} {state.last_hash[:16]}",
        )
    if seq > expected:
        return verdict("gap", None, f"gap: expected sequence {expected}, got {seq}")
    known = state.last_hash if seq == state.last_sequence else stored_hash
    if known is not None and known != event_hash(event):
        return verdict("fork", None, f"fork at sequence {seq}: a different event already holds it")
    if known is None:
        return verdict(
            "replay", None, f"replay: sequence {seq} is at or below head {state.last_sequence}"
        )
    return verdict("replay", None, f"replay: sequence {seq} was already accepted")


def verify_segment(
    events: Sequence[MatchEvent], start: ChainState | None = None
) -> list[ChainVerdict]:
    """Check consecutive links of one gateway's events (ordered by sequence).

    Returns the broken links (empty when the segment is intact). ``start`` is the head
    before the first event when known; without it the first event is taken as given,
    except that sequence 1 must point at GENESIS_HASH.
    """
    problems: list[ChainVerdict] = []
    if not events:
        return problems
    first = events[0]
    if start is None and first.sequence == 1:
        start = ChainState.genesis()
    state = start if start is not None else ChainState(first.sequence, event_hash(first))
    todo = events if start is not None else events[1:]
    gateway = first.gateway_id
    for e in todo:
        if e.gateway_id != gateway:
            problems.append(
                ChainVerdict(
                    "fork",
                    state.last_sequence + 1,
                    e.sequence,
                    None,
                    e.prev_hash,
                    f"sequence {e.sequence} belongs to gateway {e.gateway_id}, not {gateway}",
                )
            )
            continue
        v = check_link(state, e)
        if not v.ok:
            problems.append(v)
        if e.sequence > state.last_sequence:
            state = state.after(e)
    return problems
