"""Durable outbox: every match event is on disk, chained, before any send is tried.

One SQLite file (WAL, ``synchronous=FULL``: a commit returns only after the WAL is
fsynced) holds both the queued events and the chain head. ``append_event`` mints the
next chain link, lets the caller build and sign the event for it, and stores the
event and the new head in one transaction, so a crash at any instant leaves either
both or neither. The uplink reads ``pending`` in sequence order and ``ack``s (deletes)
an event only after the centre has committed it.

The outbox is bounded (events and bytes). When full it refuses new events loudly
(OutboxFullError, an error log, a counter) and never drops stored evidence; a full
disk is treated the same way and clears by itself when space returns.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from edge.errors import EvidenceError, OutboxFullError, StoreError
from edge.evidence.model import MatchEvent, event_hash
from edge.fsutil import fsync_dir
from edge.gateway.chainstate import EMPTY_HEAD, ChainHead, ChainLink, advance
from edge.gateway.chainstate import read_head as _read_head
from edge.gateway.config import OutboxConfig
from edge.gateway.outbox_db import connect, is_disk_full, take_lock

log = logging.getLogger(__name__)

#: how often a continuing "full" condition is logged again (seconds)
_FULL_LOG_INTERVAL_S = 60.0

Builder = Callable[[int, str], tuple[MatchEvent, bytes]]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    sequence: int
    event_id: str
    event_hash: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending_events: int
    pending_bytes: int
    head_sequence: int
    appended: int  # since open
    acked: int  # since open
    refused_full: int  # appends refused because a configured bound was reached
    disk_full: int  # SQLite "database or disk is full" errors
    full: bool  # the last append was refused
    quarantined: int = 0  # rejected by the store for good, kept in table quarantine


class Outbox:
    """The gateway's durable, bounded, chained queue of signed match events."""

    def __init__(self, path: Path, config: OutboxConfig) -> None:
        self._path = path
        self._config = config
        self._conn: sqlite3.Connection | None = None
        self._lock_file: IO[bytes] | None = None
        self._mutex = threading.RLock()
        self._space = threading.Condition(self._mutex)
        self._head = EMPTY_HEAD
        self._count = 0
        self._bytes = 0
        self._appended = 0
        self._acked = 0
        self._refused = 0
        self._disk_full = 0
        self._full = False
        self._last_full_log = 0.0
        self._quarantined = 0

    @property
    def path(self) -> Path:
        return self._path

    # -- lifecycle ---------------------------------------------------------------

    def open(self) -> None:
        """Create or open the database; refuses if another process holds it."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = take_lock(self._path)
        try:
            self._conn = connect(self._path)
            self._load_totals()
            fsync_dir(self._path.parent)
        except (sqlite3.DatabaseError, StoreError) as e:
            self.close()
            raise StoreError(f"outbox {self._path} cannot be opened: {e}") from e
        log.info(
            "outbox open",
            extra={"path": str(self._path), "pending": self._count, "head": self._head.sequence},
        )

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._lock_file is not None:
                self._lock_file.close()  # releases the flock
                self._lock_file = None
            self._space.notify_all()

    def _load_totals(self) -> None:
        conn = self._db()
        row = conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM outbox").fetchone()
        self._count, self._bytes = int(row[0]), int(row[1])
        self._quarantined = int(conn.execute("SELECT count(*) FROM quarantine").fetchone()[0])
        self._head = _read_head(conn)
        last = conn.execute("SELECT max(sequence) FROM outbox").fetchone()[0]
        if last is not None and int(last) != self._head.sequence:
            raise StoreError(
                f"chain head {self._head.sequence} disagrees with the newest stored event {last}"
            )

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"outbox {self._path} is not open (call open() first)")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction; a full disk becomes OutboxFullError."""
        conn = self._db()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            if not is_disk_full(e):
                raise
            self._disk_full += 1
            self._refuse(f"disk full ({e})")
            raise OutboxFullError(
                f"outbox {self._path}: the disk is full; the event was not stored. "
                "Free space on the data_dir file system; appends resume by themselves."
            ) from e

    # -- chain -------------------------------------------------------------------

    def head(self) -> ChainHead:
        with self._mutex:
            return self._head

    def next_link(self) -> ChainLink:
        """The (sequence, prev_hash) the next committed event must carry."""
        with self._mutex:
            return self._head.next_link()

    def commit(self, event: MatchEvent, payload: bytes) -> OutboxEntry:
        """Store ``event`` (built for ``next_link()``) and advance the chain atomically."""
        with self._mutex:
            self._check_bounds(len(payload))
            with self._write() as conn:
                entry = self._insert(conn, event, payload)
            self._committed(entry, event)
            return entry

    def append_event(
        self,
        build: Builder,
        *,
        block_timeout_s: float = 1.0,
        resume: tuple[str, int] | None = None,
    ) -> OutboxEntry:
        """Mint the next link, ``build(sequence, prev_hash)`` -> (event, payload), store both.

        ``build`` runs while the write lock is held, so it must be quick: encode blobs
        before, only mint ids and sign here. With ``when_full: block`` a full outbox is
        waited on for up to ``block_timeout_s`` before OutboxFullError is raised.
        """
        with self._mutex:
            if self._config.when_full == "block":
                self.wait_for_space(block_timeout_s)
            self._check_bounds(0)
            with self._write() as conn:
                link = _read_head(conn).next_link()
                event, payload = build(link.sequence, link.prev_hash)
                self._check_bounds(len(payload))
                entry = self._insert(conn, event, payload)
                if resume is not None:
                    conn.execute(
                        "INSERT INTO resume_marks (key, position, at_us) VALUES (?, ?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET "
                        "position = MAX(position, excluded.position), at_us = excluded.at_us",
                        (*resume, time.time_ns() // 1000),
                    )
            self._committed(entry, event)
            return entry

    def resume_position(self, key: str) -> int | None:
        """Position of the last frame of input ``key`` that became evidence, if any."""
        with self._mutex:
            conn = self._db()
            row = conn.execute("SELECT position FROM resume_marks WHERE key = ?", (key,)).fetchone()
            return None if row is None else int(row[0])

    def _insert(self, conn: sqlite3.Connection, event: MatchEvent, payload: bytes) -> OutboxEntry:
        head = _read_head(conn)
        advance(conn, head, event)
        entry = OutboxEntry(event.sequence, event.event_id, event_hash(event), bytes(payload))
        try:
            conn.execute(
                "INSERT INTO outbox (sequence, event_id, event_hash, payload, size, "
                "created_at_us) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.sequence,
                    entry.event_id,
                    entry.event_hash,
                    entry.payload,
                    len(entry.payload),
                    time.time_ns() // 1000,
                ),
            )
        except sqlite3.IntegrityError as e:
            raise EvidenceError(f"event id {event.event_id} is already in the outbox") from e
        return entry

    def _committed(self, entry: OutboxEntry, event: MatchEvent) -> None:
        self._head = ChainHead(event.gateway_id, entry.sequence, entry.event_hash)
        self._count += 1
        self._bytes += len(entry.payload)
        self._appended += 1
        if self._full:
            log.warning("outbox accepting events again", extra=self._totals())
        self._full = False

    # -- bounds ------------------------------------------------------------------

    def _check_bounds(self, size: int) -> None:
        cfg = self._config
        if self._count + 1 > cfg.max_events:
            reason = f"{self._count} events stored, max_events is {cfg.max_events}"
        elif self._bytes + size > cfg.max_bytes:
            reason = f"{self._bytes}+{size} bytes exceeds max_bytes {cfg.max_bytes}"
        else:
            return
        self._refuse(reason)
        raise OutboxFullError(
            f"outbox {self._path} is full ({reason}); new evidence is refused until the "
            "uplink delivers stored events (nothing stored is dropped)"
        )

    def _refuse(self, reason: str) -> None:
        self._refused += 1
        now = time.monotonic()
        if not self._full or now - self._last_full_log >= _FULL_LOG_INTERVAL_S:
            log.error(
                "OUTBOX FULL: refusing new evidence",
                extra={"reason": reason, "refused_total": self._refused, **self._totals()},
            )
            self._last_full_log = now
        self._full = True

    def _totals(self) -> dict[str, int]:
        return {"pending": self._count, "pending_bytes": self._bytes}

    def wait_for_space(self, timeout_s: float) -> bool:
        """Block until one more event fits by count (or ``timeout_s`` passes)."""
        deadline = time.monotonic() + timeout_s
        with self._space:
            while self._count + 1 > self._config.max_events or (
                self._bytes >= self._config.max_bytes
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._conn is None:
                    return False
                self._space.wait(remaining)
            return True

    # -- uplink side -------------------------------------------------------------

    def pending(self, limit: int = 100, after_sequence: int = 0) -> list[OutboxEntry]:
        """Stored events in sequence order (oldest first), after ``after_sequence``."""
        with self._mutex:
            rows = self._db().execute(
                "SELECT sequence, event_id, event_hash, payload FROM outbox "
                "WHERE sequence > ? ORDER BY sequence LIMIT ?",
                (after_sequence, limit),
            )
            return [OutboxEntry(int(r[0]), str(r[1]), str(r[2]), bytes(r[3])) for r in rows]

    def ack(self, event_id: str) -> bool:
        """Delete a delivered event; False if it was not (or no longer) stored."""
        return self.ack_many([event_id]) == 1

    def ack_many(self, event_ids: Sequence[str]) -> int:
        """Delete delivered events in one transaction; returns how many were stored.

        One transaction per reply of the store, not per event: a gateway draining a
        backlog would otherwise spend an fsync on every acked event. (An ack lost in a
        crash only means a resend, which the store answers DUPLICATE.)"""
        if not event_ids:
            return 0
        with self._mutex:
            with self._write() as conn:
                sizes = [
                    row[0]
                    for eid in event_ids
                    for row in conn.execute(
                        "DELETE FROM outbox WHERE event_id = ? RETURNING size", (eid,)
                    )
                ]
            self._count -= len(sizes)
            self._bytes -= sum(int(n) for n in sizes)
            self._acked += len(sizes)
            self._space.notify_all()
            return len(sizes)

    def quarantine(self, event_id: str, reason: str) -> bool:
        """Move an event the store rejected for good out of the send queue.

        It stays on disk (table ``quarantine``) for an operator to inspect; nothing is
        deleted, and the rest of the queue flows again. The store sees a chain gap.
        """
        with self._mutex:
            with self._write() as conn:
                row = conn.execute(
                    "DELETE FROM outbox WHERE event_id = ? RETURNING sequence, payload, size",
                    (event_id,),
                ).fetchone()
                if row is None:
                    return False
                conn.execute(
                    "INSERT INTO quarantine (sequence, event_id, payload, reason, at_us) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (row[0], event_id, row[1], reason[:500], time.time_ns() // 1000),
                )
            self._count -= 1
            self._bytes -= int(row[2])
            self._quarantined += 1
            self._space.notify_all()
            log.error(
                "EVENT QUARANTINED: the store rejected it; kept on disk, not resent",
                extra={"event_id": event_id, "sequence": int(row[0]), "reason": reason[:200]},
            )
            return True

    def quarantined(self) -> list[tuple[int, str, str]]:
        """(sequence, event_id, reason) of every quarantined event."""
        with self._mutex:
            rows = self._db().execute(
                "SELECT sequence, event_id, reason FROM quarantine ORDER BY sequence"
            )
            return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def stats(self) -> OutboxStats:
        with self._mutex:
            return OutboxStats(
                pending_events=self._count,
                pending_bytes=self._bytes,
                head_sequence=self._head.sequence,
                appended=self._appended,
                acked=self._acked,
                refused_full=self._refused,
                disk_full=self._disk_full,
                full=self._full,
                quarantined=self._quarantined,
            )


def outbox_path(data_dir: Path) -> Path:
    """Where a gateway keeps its outbox inside its data_dir."""
    return data_dir / "outbox.sqlite"
