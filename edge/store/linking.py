"""How the store records an arriving event's chain link (pure policy over check_link).

Nothing is ever silently clean: every link that is not a plain "next event" keeps its
state and a note on the event and becomes a problem on the gateway. The chain head
moves forward with the newest gateway-signed event, so one broken link does not make
every later event look broken.
"""

from __future__ import annotations

from edge.evidence.chain import ChainState, check_link
from edge.evidence.model import GENESIS_HASH, MatchEvent
from edge.store.repository import ChainHead, HashAt, LinkDecision


def classify_link(event: MatchEvent, head: ChainHead, hash_at: HashAt) -> LinkDecision:
    seq = event.sequence
    at_or_below = seq <= head.last_sequence
    stored = hash_at(seq) if at_or_below and seq >= 1 else None
    verdict = check_link(ChainState(head.last_sequence, head.last_hash), event, stored)
    if verdict.status == "ok":
        return LinkDecision("ok", "", advance=True)
    if verdict.status == "gap":
        return LinkDecision("gap", verdict.detail, advance=True)
    if verdict.status == "fork":
        return LinkDecision("fork", verdict.detail, advance=not at_or_below)
    # "replay" of a sequence with nothing stored there: an event that arrives late,
    # after later ones (e.g. it waited in a retry); it is fine if it links backwards.
    prev = GENESIS_HASH if seq == 1 else hash_at(seq - 1)
    late = f"arrived late (after sequence {head.last_sequence})"
    if prev is None:
        return LinkDecision("gap", f"{late}; sequence {seq - 1} is not stored", advance=False)
    if prev != event.prev_hash:
        return LinkDecision(
            "fork", f"{late}; prev_hash differs from stored sequence {seq - 1}", advance=False
        )
    return LinkDecision("ok", late, advance=False)
