"""The audit log's pure rules: how an entry is hashed, how a log is checked, and which
events an entry is about.

Each entry commits to its predecessor's hash, so deleting, inserting or editing any
entry breaks every later hash; verification recomputes the whole chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edge.store.repository import AuditEntry

AUDIT_GENESIS = "0" * 64


def audit_entry_hash(
    seq: int, at_us: int, actor: str, action: str, detail_json: str, prev_hash: str
) -> str:
    body = json.dumps(
        [seq, at_us, actor, action, detail_json, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def events_named(detail_json: str) -> set[str]:
    """The event ids an entry's detail names (``event_id`` and ``event_ids``).

    This is what the store indexes (``audit_subjects``) so an event's trail is found
    without reading the whole log; details that are not a JSON object name nothing.
    """
    try:
        detail: Any = json.loads(detail_json)
    except ValueError:
        return set()
    if not isinstance(detail, dict):
        return set()
    many = detail.get("event_ids")
    named = {i for i in many if isinstance(i, str)} if isinstance(many, list) else set()
    one = detail.get("event_id")
    if isinstance(one, str):
        named.add(one)
    return named


@dataclass(frozen=True, slots=True)
class AuditVerification:
    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None  # None when ok
    problem: str  # empty when ok


def verify_audit_chain(
    entries: Iterable[AuditEntry], start_seq: int = 0, start_hash: str = AUDIT_GENESIS
) -> AuditVerification:
    """Check sequence continuity, links and every hash, from (start_seq, start_hash)."""
    expected_seq, prev = start_seq, start_hash
    count = 0
    for e in entries:
        expected_seq += 1
        problem = ""
        if e.seq != expected_seq:
            problem = f"entry {e.seq} found where entry {expected_seq} was expected"
        elif e.prev_hash != prev:
            problem = f"entry {e.seq} does not link to entry {e.seq - 1}"
        elif e.entry_hash != audit_entry_hash(
            e.seq, e.at_us, e.actor, e.action, e.detail_json, e.prev_hash
        ):
            problem = f"entry {e.seq} was altered (hash mismatch)"
        if problem:
            return AuditVerification(False, count, prev, expected_seq, problem)
        prev = e.entry_hash
        count += 1
    return AuditVerification(True, count, prev, None, "")
