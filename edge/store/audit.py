"""The audit trail: who did what, when, to which events, with how many results.

Every reviewer query and view and every admin change is appended to the hash-chained
audit log before its answer leaves the store. Details are structured (JSON) and name
filters, event ids and counts; they never hold images, embeddings or tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from edge.store.audit_chain import AUDIT_GENESIS, AuditVerification, verify_audit_chain
from edge.store.auth import Principal
from edge.store.repository import AuditEntry, AuditRepository

log = logging.getLogger(__name__)

_PAGE = 5000


class Auditor:
    def __init__(self, log_repo: AuditRepository, clock: Callable[[], int]) -> None:
        self._repo = log_repo
        self._clock = clock

    def record(self, who: Principal | str, action: str, detail: Mapping[str, Any]) -> AuditEntry:
        actor = who.actor if isinstance(who, Principal) else who
        text = json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        entry = self._repo.append(self._clock(), actor, action, text)
        log.info("audited", extra={"audit_seq": entry.seq, "actor": actor, "action": action})
        return entry

    def _all(self) -> Iterator[AuditEntry]:
        after = 0
        while True:
            page = self._repo.entries(after_seq=after, limit=_PAGE)
            yield from page
            if len(page) < _PAGE:
                return
            after = page[-1].seq

    def verify(self) -> AuditVerification:
        """Recompute the whole chain and compare its end with the stored head."""
        result = verify_audit_chain(self._all())
        if not result.ok:
            return result
        seq, head = self._repo.head()
        if (seq, head) != (result.entries, result.head_hash if seq else AUDIT_GENESIS):
            return AuditVerification(
                False,
                result.entries,
                result.head_hash,
                result.entries + 1,
                f"the log ends at entry {result.entries} but the head says entry {seq}: "
                "entries were removed from the end",
            )
        return result

    def entries_about(self, event_ids: set[str], limit: int = 10_000) -> list[dict[str, Any]]:
        """Audit entries whose detail names any of ``event_ids`` (for export packages and
        the event page), oldest first; an index lookup, not a read of the whole log."""
        return [
            {
                "seq": e.seq,
                "at_us": e.at_us,
                "actor": e.actor,
                "action": e.action,
                "detail": json.loads(e.detail_json),
                "prev_hash": e.prev_hash,
                "entry_hash": e.entry_hash,
            }
            for e in self._repo.entries_about(event_ids, limit)
        ]
