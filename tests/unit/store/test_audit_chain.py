from __future__ import annotations

import dataclasses

from edge.store.audit_chain import AUDIT_GENESIS, audit_entry_hash, verify_audit_chain
from edge.store.repository import AuditEntry


def chain(n: int) -> list[AuditEntry]:
    out, prev = [], AUDIT_GENESIS
    for seq in range(1, n + 1):
        h = audit_entry_hash(seq, seq * 10, "ann", "review.search", "{}", prev)
        out.append(AuditEntry(seq, seq * 10, "ann", "review.search", "{}", prev, h))
        prev = h
    return out


def test_intact_chain_verifies() -> None:
    entries = chain(4)
    v = verify_audit_chain(entries)
    assert v.ok and v.entries == 4 and v.head_hash == entries[-1].entry_hash


def test_edit_reorder_and_removal_are_found() -> None:
    entries = chain(4)
    edited = [*entries[:2], dataclasses.replace(entries[2], detail_json='{"n":1}'), entries[3]]
    assert verify_audit_chain(edited).first_bad_seq == 3
    assert verify_audit_chain([entries[0], entries[2], entries[3]]).first_bad_seq == 2
    relinked = dataclasses.replace(entries[1], prev_hash="f" * 64)
    assert not verify_audit_chain([entries[0], relinked]).ok


def test_hash_covers_every_field() -> None:
    base = (1, 2, "a", "b", "{}", AUDIT_GENESIS)
    h = audit_entry_hash(*base)
    for i, alt in enumerate((9, 9, "z", "z", "[]", "1" * 64)):
        changed = list(base)
        changed[i] = alt
        assert audit_entry_hash(*changed) != h  # type: ignore[arg-type]
