"""The gateway's hash chain: sequence number + previous event hash.

The chain head lives in the outbox's SQLite database and is advanced by the same
transaction that stores the event, so after any crash the head and the stored
events agree: the chain can neither fork nor skip. These helpers run inside a
transaction the caller (``Outbox``) owns; they never commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from edge.errors import EvidenceError
from edge.evidence.model import GENESIS_HASH, MatchEvent, event_hash

CHAIN_SCHEMA = """
CREATE TABLE IF NOT EXISTS chain_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    gateway_id TEXT    NOT NULL,
    sequence   INTEGER NOT NULL CHECK (sequence >= 0),
    head_hash  TEXT    NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class ChainLink:
    """What the next event must carry: its sequence and the previous event's hash."""

    sequence: int
    prev_hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last committed link (sequence 0 and the genesis hash before any event)."""

    gateway_id: str | None
    sequence: int
    head_hash: str

    def next_link(self) -> ChainLink:
        return ChainLink(self.sequence + 1, self.head_hash)


EMPTY_HEAD = ChainHead(None, 0, GENESIS_HASH)


def read_head(conn: sqlite3.Connection) -> ChainHead:
    row = conn.execute("SELECT gateway_id, sequence, head_hash FROM chain_state").fetchone()
    if row is None:
        return EMPTY_HEAD
    return ChainHead(str(row[0]), int(row[1]), str(row[2]))


def check_link(head: ChainHead, event: MatchEvent) -> None:
    """Refuse an event that does not extend ``head`` exactly."""
    link = head.next_link()
    if head.gateway_id is not None and event.gateway_id != head.gateway_id:
        raise EvidenceError(
            f"event {event.event_id} is for gateway {event.gateway_id!r} but this outbox "
            f"chains gateway {head.gateway_id!r}"
        )
    if event.sequence != link.sequence or event.prev_hash != link.prev_hash:
        raise EvidenceError(
            f"event {event.event_id} does not extend the chain: it carries sequence "
            f"{event.sequence} / prev {event.prev_hash[:12]}…, the chain expects "
            f"{link.sequence} / {link.prev_hash[:12]}…"
        )


def advance(conn: sqlite3.Connection, head: ChainHead, event: MatchEvent) -> ChainHead:
    """Move the head to ``event`` inside the caller's open transaction."""
    check_link(head, event)
    new = ChainHead(event.gateway_id, event.sequence, event_hash(event))
    conn.execute(
        "INSERT INTO chain_state (id, gateway_id, sequence, head_hash) VALUES (1, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence, "
        "head_hash = excluded.head_hash",
        (new.gateway_id, new.sequence, new.head_hash),
    )
    return new


def verify_links(events: Iterable[MatchEvent], start: ChainLink | None = None) -> ChainLink:
    """Check that ``events`` form an unbroken chain; returns the link after the last.

    ``start`` is the link the first event must carry (default: the genesis link).
    Raises EvidenceError naming the first break.
    """
    link = start or ChainLink(1, GENESIS_HASH)
    for e in events:
        if e.sequence != link.sequence or e.prev_hash != link.prev_hash:
            raise EvidenceError(
                f"chain broken at event {e.event_id}: sequence {e.sequence}, expected "
                f"{link.sequence}; prev {e.prev_hash[:12]}…, expected {link.prev_hash[:12]}…"
            )
        link = ChainLink(e.sequence + 1, event_hash(e))
    return link
