"""The ``dispatches`` table: one row per case sent (or to be sent) to the webhook.

Rows are claimed with a lease, so several store processes on one PostgreSQL database
never send the same attempt twice. edge/store/dispatch.py decides what goes in; this
module only reads and writes rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.errors import NotFoundError
from edge.store.platform_schema import add_column
from edge.store.sql import Database, Row

DispatchState = Literal["pending", "delivered", "failed"]
LEASE_US = 120_000_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dispatches ("
    " id TEXT PRIMARY KEY, event_id TEXT NOT NULL, created_at_us BIGINT NOT NULL,"
    " created_by TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_us BIGINT NOT NULL, lease_until_us BIGINT NOT NULL DEFAULT 0,"
    " last_status TEXT NOT NULL DEFAULT '', delivered_at_us BIGINT,"
    " package_sha256 TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_dispatches_event ON dispatches (event_id, created_at_us)",
    "CREATE INDEX IF NOT EXISTS ix_dispatches_due ON dispatches (state, next_attempt_us)",
)
_COLUMNS = (
    "id, event_id, created_at_us, created_by, state, attempts, next_attempt_us,"
    " last_status, delivered_at_us, package_sha256, purpose"
)


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    dispatch_id: str
    event_id: str
    created_at_us: int
    created_by: str
    state: str  # DispatchState
    attempts: int
    next_attempt_us: int
    last_status: str  # "HTTP 200", "HTTP 503", "timed out", ...
    delivered_at_us: int | None
    package_sha256: str
    purpose: str = "case"  # "case" | "withdraw" (the receiver is told of a rejection)


@dataclass(frozen=True, slots=True)
class Claimed:
    dispatch_id: str
    event_id: str
    payload: str
    attempts: int


def _record(r: Row) -> DispatchRecord:
    return DispatchRecord(
        str(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6]),
        str(r[7]), None if r[8] is None else int(r[8]), str(r[9]), str(r[10]),
    )  # fmt: skip


class DispatchTable:
    def __init__(self, db: Database) -> None:
        self._db = db

    def open(self) -> None:
        """Create the table if needed; add ``purpose`` to a table made before it existed."""
        self._db.migrate(list(_SCHEMA))
        add_column(self._db, "dispatches", "purpose", "TEXT NOT NULL DEFAULT 'case'")

    def for_event(self, event_id: str) -> list[DispatchRecord]:
        with self._db.read() as tx:
            rows = tx.rows(
                f"SELECT {_COLUMNS} FROM dispatches WHERE event_id = ? ORDER BY created_at_us",
                (event_id,),
            )
        return [_record(r) for r in rows]

    def get(self, dispatch_id: str) -> DispatchRecord:
        with self._db.read() as tx:
            r = tx.row(f"SELECT {_COLUMNS} FROM dispatches WHERE id = ?", (dispatch_id,))
        if r is None:
            raise NotFoundError(f"no dispatch {dispatch_id!r}")
        return _record(r)

    def insert(
        self, dispatch_id: str, event_id: str, now: int, actor: str, sha: str, body: str,
        purpose: str,
    ) -> None:  # fmt: skip
        with self._db.write() as tx:
            tx.run(
                "INSERT INTO dispatches (id, event_id, created_at_us, created_by, state,"
                " next_attempt_us, package_sha256, payload, purpose)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (dispatch_id, event_id, now, actor, "pending", now, sha, body, purpose),
            )

    def cancel(self, dispatch_id: str, now: int) -> bool:
        """A pending dispatch no worker holds is given up (its match was rejected)."""
        with self._db.write() as tx:
            n = tx.run(
                "UPDATE dispatches SET state = 'failed', last_status = 'cancelled: rejected"
                " before delivery' WHERE id = ? AND state = 'pending' AND lease_until_us < ?",
                (dispatch_id, now),
            )
        return n == 1

    def counts(self) -> dict[str, int]:
        """Dispatches by state (pending ones are the send queue)."""
        with self._db.read() as tx:
            rows = tx.rows("SELECT state, COUNT(*) FROM dispatches GROUP BY state")
        return {str(r[0]): int(r[1]) for r in rows}

    def claim(self, now: int, limit: int = 8) -> list[Claimed]:
        """Due rows, each leased to this worker for ``LEASE_US``."""
        claimed = []
        with self._db.write() as tx:
            rows = tx.rows(
                "SELECT id, event_id, payload, attempts FROM dispatches WHERE state = 'pending'"
                " AND next_attempt_us <= ? AND lease_until_us < ?"
                " ORDER BY next_attempt_us LIMIT ?",
                (now, now, limit),
            )
            for r in rows:
                n = tx.run(
                    "UPDATE dispatches SET lease_until_us = ? WHERE id = ? AND lease_until_us < ?",
                    (now + LEASE_US, r[0], now),
                )
                if n == 1:
                    claimed.append(Claimed(str(r[0]), str(r[1]), str(r[2]), int(r[3])))
        return claimed

    def finish(
        self, dispatch_id: str, attempt: int, state: str, next_us: int, status: str,
        delivered_at_us: int | None,
    ) -> None:  # fmt: skip
        """Record an attempt's outcome and release the lease."""
        with self._db.write() as tx:
            tx.run(
                "UPDATE dispatches SET attempts = ?, state = ?, next_attempt_us = ?,"
                " lease_until_us = 0, last_status = ?, delivered_at_us = ? WHERE id = ?",
                (attempt, state, next_us, status, delivered_at_us, dispatch_id),
            )

    def next_due_us(self) -> int | None:
        with self._db.read() as tx:
            r = tx.row("SELECT MIN(next_attempt_us) FROM dispatches WHERE state = 'pending'")
        return None if r is None or r[0] is None else int(r[0])
