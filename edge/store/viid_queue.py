"""The durable GA/T 1400 push queue (table viid_push, edge/store/platform_schema.py).

One row per (event, kind): "MotorVehicle" and "Face" pushes, "delete:MotorVehicle"
and "delete:Face" withdrawals. The unique key makes every enqueue idempotent, so an
event is queued once however often a rule, a confirmation or a click asks for it.
Rows are claimed with a lease (several store processes on one PostgreSQL database
never send one row at the same time) and stay until delivered: there is no give-up,
only "refused" for answers that say the object will never be accepted as sent, which
a reviewer can send again once the cause is fixed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edge.ids import uuid7
from edge.store.platform_schema import platform_statements
from edge.store.sql import Database, Row, in_list

PUSH_KINDS = ("MotorVehicle", "Face")
DELETE_PREFIX = "delete:"
STATES = ("pending", "delivered", "refused", "cancelled")
_COLUMNS = (
    "id, event_id, kind, reason, created_at_us, created_by, state, attempts,"
    " next_attempt_us, last_status, delivered_at_us, object_ids"
)


@dataclass(frozen=True, slots=True)
class PushRecord:
    push_id: str
    event_id: str
    kind: str
    reason: str  # "confirmed", "all", "rule:<id>", "transfer", "reject"
    created_at_us: int
    created_by: str
    state: str
    attempts: int
    next_attempt_us: int
    last_status: str
    delivered_at_us: int | None
    object_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Claimed:
    push_id: str
    event_id: str
    kind: str
    attempts: int
    payload: str | None  # built on first claim, then fixed


@dataclass(frozen=True, slots=True)
class QueueStats:
    pending: int
    delivered: int
    refused: int
    cancelled: int
    oldest_pending_us: int | None


def _record(r: Row) -> PushRecord:
    return PushRecord(
        str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), str(r[5]), str(r[6]),
        int(r[7]), int(r[8]), str(r[9]), None if r[10] is None else int(r[10]),
        tuple(json.loads(str(r[11]))),
    )  # fmt: skip


class ViidQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    def open(self) -> None:
        self._db.migrate(platform_statements(self._db.dialect))

    def enqueue(
        self,
        event_id: str,
        kinds: Sequence[str],
        reason: str,
        who: str,
        now: int,
        prepared: Mapping[str, tuple[str, Sequence[str]]] | None = None,
    ) -> list[str]:
        """Queue the kinds not queued yet for this event; returns those newly queued.

        ``prepared`` gives a kind's payload and object ids up front (withdrawals)."""
        return self.enqueue_many([(event_id, kinds)], reason, who, now, prepared)[event_id]

    def enqueue_many(
        self,
        items: Sequence[tuple[str, Sequence[str]]],
        reason: str,
        who: str,
        now: int,
        prepared: Mapping[str, tuple[str, Sequence[str]]] | None = None,
    ) -> dict[str, list[str]]:
        """``enqueue`` for several events in one transaction."""
        added: dict[str, list[str]] = {}
        with self._db.write() as tx:
            for event_id, kinds in items:
                added[event_id] = []
                for kind in kinds:
                    payload, ids = (prepared or {}).get(kind, (None, ()))
                    n = tx.run(
                        "INSERT INTO viid_push (id, event_id, kind, reason, created_at_us,"
                        " created_by, state, next_attempt_us, payload, object_ids)"
                        " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)"
                        " ON CONFLICT (event_id, kind) DO NOTHING",
                        (uuid7(now // 1000), event_id, kind, reason, now, who, now, payload,
                         json.dumps(list(ids))),
                    )  # fmt: skip
                    if n:
                        added[event_id].append(kind)
        return added

    def requeue(self, event_id: str, kinds: Sequence[str], now: int) -> int:
        """Send refused or cancelled rows again (a reviewer's new transfer)."""
        with self._db.write() as tx:
            return tx.run(
                f"UPDATE viid_push SET state = 'pending', next_attempt_us = ?, attempts = 0"
                f" WHERE event_id = ? AND kind IN {in_list(len(kinds))}"
                " AND state IN ('refused', 'cancelled')",
                (now, event_id, *kinds),
            )

    def reopen(self, event_id: str, now: int) -> int:
        """A withdrawn event is confirmed again: drop its withdrawals not being sent and
        send its objects again (same IDs); returns the rows queued again."""
        with self._db.write() as tx:
            withdrawals = tx.rows(
                "SELECT id FROM viid_push WHERE event_id = ? AND kind LIKE 'delete:%'"
                " AND lease_until_us < ?",
                (event_id, now),
            )
            if not withdrawals:
                return 0
            tx.run(
                f"DELETE FROM viid_push WHERE id IN {in_list(len(withdrawals))}",
                [r[0] for r in withdrawals],
            )
            return tx.run(
                "UPDATE viid_push SET state = 'pending', attempts = 0, next_attempt_us = ?"
                " WHERE event_id = ? AND kind NOT LIKE 'delete:%'"
                " AND state IN ('delivered', 'cancelled')",
                (now, event_id),
            )

    def cancel_unsent(self, event_id: str, now: int) -> list[str]:
        """Pending pushes not being sent right now become cancelled; returns their kinds."""
        with self._db.write() as tx:
            rows = tx.rows(
                "SELECT id, kind FROM viid_push WHERE event_id = ? AND state = 'pending'"
                " AND lease_until_us < ?" + self._db.dialect.for_update,
                (event_id, now),
            )
            for r in rows:
                tx.run(
                    "UPDATE viid_push SET state = 'cancelled', last_status = 'cancelled:"
                    " rejected before it was sent' WHERE id = ?",
                    (r[0],),
                )
        return [str(r[1]) for r in rows]

    def claim(self, now: int, limit: int, lease_us: int) -> list[Claimed]:
        """Due pending rows of one kind (the oldest due row's), leased to the caller."""
        out: list[Claimed] = []
        with self._db.write() as tx:
            first = tx.row(
                "SELECT kind FROM viid_push WHERE state = 'pending' AND next_attempt_us <= ?"
                " AND lease_until_us < ? ORDER BY next_attempt_us LIMIT 1",
                (now, now),
            )
            if first is None:
                return out
            rows = tx.rows(
                "SELECT id, event_id, kind, attempts, payload FROM viid_push"
                " WHERE state = 'pending' AND kind = ? AND next_attempt_us <= ?"
                " AND lease_until_us < ? ORDER BY next_attempt_us, id LIMIT ?",
                (first[0], now, now, limit),
            )
            for r in rows:
                n = tx.run(
                    "UPDATE viid_push SET lease_until_us = ? WHERE id = ? AND lease_until_us < ?",
                    (now + lease_us, r[0], now),
                )
                if n == 1:
                    out.append(Claimed(str(r[0]), str(r[1]), str(r[2]), int(r[3]), r[4]))
        return out

    def set_payload(self, push_id: str, payload: str, object_ids: Sequence[str]) -> None:
        with self._db.write() as tx:
            tx.run(
                "UPDATE viid_push SET payload = ?, object_ids = ? WHERE id = ? AND payload IS NULL",
                (payload, json.dumps(list(object_ids)), push_id),
            )

    def finish(
        self, push_id: str, state: str, attempts: int, next_us: int, status: str, now: int
    ) -> None:
        """Record an attempt's outcome and release the lease."""
        with self._db.write() as tx:
            tx.run(
                "UPDATE viid_push SET state = ?, attempts = ?, next_attempt_us = ?,"
                " lease_until_us = 0, last_status = ?, delivered_at_us = ? WHERE id = ?",
                (state, attempts, next_us, status[:300], now if state == "delivered" else None,
                 push_id),
            )  # fmt: skip

    def release(self, push_ids: Sequence[str], next_us: int) -> None:
        """Give rows back unsent (the link went down before they were tried)."""
        if not push_ids:
            return
        with self._db.write() as tx:
            tx.run(
                f"UPDATE viid_push SET lease_until_us = 0, next_attempt_us = ?"
                f" WHERE id IN {in_list(len(push_ids))}",
                (next_us, *push_ids),
            )

    def get(self, push_id: str) -> PushRecord | None:
        with self._db.read() as tx:
            r = tx.row(f"SELECT {_COLUMNS} FROM viid_push WHERE id = ?", (push_id,))
        return None if r is None else _record(r)

    def for_event(self, event_id: str) -> list[PushRecord]:
        with self._db.read() as tx:
            rows = tx.rows(
                f"SELECT {_COLUMNS} FROM viid_push WHERE event_id = ? ORDER BY created_at_us, kind",
                (event_id,),
            )
        return [_record(r) for r in rows]

    def stats(self) -> QueueStats:
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT state, COUNT(*), MIN(created_at_us) FROM viid_push GROUP BY state"
            )
        by = {str(r[0]): (int(r[1]), r[2]) for r in rows}
        oldest = by.get("pending", (0, None))[1]
        return QueueStats(
            pending=by.get("pending", (0, None))[0],
            delivered=by.get("delivered", (0, None))[0],
            refused=by.get("refused", (0, None))[0],
            cancelled=by.get("cancelled", (0, None))[0],
            oldest_pending_us=None if oldest is None else int(oldest),
        )

    def next_due_us(self) -> int | None:
        with self._db.read() as tx:
            r = tx.row("SELECT MIN(next_attempt_us) FROM viid_push WHERE state = 'pending'")
        return None if r is None or r[0] is None else int(r[0])
