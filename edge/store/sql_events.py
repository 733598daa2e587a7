"""Events, their blobs and verdicts in SQL (shared by SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from functools import partial

from edge.errors import NotFoundError
from edge.evidence.model import event_from_dict
from edge.store.blobs import BLOB_INSERT
from edge.store.plates import normalise_plate, plate_skeleton
from edge.store.repository import (
    ChainClassifier,
    ChainHead,
    EventCounts,
    EventPage,
    EventQuery,
    InsertOutcome,
    NewEvent,
    StoredBlob,
    StoredEvent,
    Verdict,
    VerdictRecord,
)
from edge.store.sql import Database, Row, Tx, chunks, in_list, insert_rows
from edge.store.sql_search import build_search

EVENT_COLUMNS = (
    "e.canonical, e.event_hash, e.signature, e.integrity, e.integrity_note, e.received_at_us,"
    " e.verdict, e.verdict_note, e.verdict_by, e.verdict_at_us, e.case_open, s.label"
)
_FROM = "events e LEFT JOIN subjects s ON s.id = e.subject_id"
_MAX_PROBLEMS = 100


def row_to_event(row: Row) -> StoredEvent:
    event = event_from_dict(json.loads(row[0]))
    return StoredEvent(
        event=event,
        event_hash=row[1],
        signature=bytes(row[2]),
        integrity=row[3],
        integrity_note=row[4],
        received_at_us=int(row[5]),
        verdict=row[6],
        verdict_note=row[7],
        verdict_by=row[8],
        verdict_at_us=None if row[9] is None else int(row[9]),
        case_open=bool(row[10]),
        label=row[11],
    )


def append_problem(tx: Tx, gateway_id: str, problem: str, for_update: str) -> None:
    row = tx.row("SELECT problems_json FROM gateways WHERE id = ?" + for_update, (gateway_id,))
    if row is None:
        return
    problems: list[str] = json.loads(row[0])
    problems = [*problems, problem][-_MAX_PROBLEMS:]
    tx.run("UPDATE gateways SET problems_json = ? WHERE id = ?", (json.dumps(problems), gateway_id))


#: (insert head, tail) in foreign-key order; _rows_of gives one row list per statement
_INSERTS = (
    (
        "INSERT INTO events (id, gateway_id, camera_id, captured_at_us, sequence, prev_hash,"
        " event_hash, canonical, signature, integrity, integrity_note, kind, plate_text,"
        " subject_id, similarity, received_at_us) VALUES",
        "",
    ),
    ("INSERT INTO event_subjects (event_id, subject_id, captured_at_us) VALUES", ""),
    ("INSERT INTO event_plates (event_id, text, skeleton, captured_at_us) VALUES", ""),
    ("INSERT INTO blobs (sha256, size, media_type) VALUES", "ON CONFLICT (sha256) DO NOTHING"),
    ("INSERT INTO event_blobs (event_id, name, role, sha256) VALUES", ""),
    BLOB_INSERT,
)


@functools.lru_cache(maxsize=4096)
def _plate_keys(text: str) -> tuple[str, str]:
    """(normalised text, skeleton); cached because a watchlisted plate recurs."""
    return normalise_plate(text), plate_skeleton(text)


def _rows_of(
    new: NewEvent, blobs: Sequence[StoredBlob], integrity: str, note: str
) -> list[list[tuple[object, ...]]]:
    e = new.event
    plate = e.plates[0].text if e.plates else None
    first_subject = (e.faces[0].subject_id if e.faces else None) or (
        e.plates[0].subject_id if e.plates else None
    )
    similarity = e.faces[0].similarity if e.faces else None
    event_row = (
        e.event_id,
        e.gateway_id,
        e.camera_id,
        e.captured_at_us,
        e.sequence,
        e.prev_hash,
        new.event_hash,
        new.canonical.decode("utf-8"),
        new.signature,
        integrity,
        note,
        e.kind,
        plate,
        first_subject,
        similarity,
        new.received_at_us,
    )
    subjects = dict.fromkeys([f.subject_id for f in e.faces] + [p.subject_id for p in e.plates])
    keys = dict(_plate_keys(p.text) for p in e.plates)
    return [
        [event_row],
        [(e.event_id, s, e.captured_at_us) for s in subjects],
        [(e.event_id, t, skeleton, e.captured_at_us) for t, skeleton in keys.items()],
        [(b.sha256, b.size, b.media_type) for b in blobs],
        [(e.event_id, b.name, b.role, b.sha256) for b in blobs],
        list(new.contents),
    ]


def _write_rows(tx: Tx, per_event: Sequence[list[list[tuple[object, ...]]]]) -> None:
    """Multi-row inserts per table for all events (few statements on either database)."""
    for i, (head, tail) in enumerate(_INSERTS):
        insert_rows(tx, head, [row for rows in per_event for row in rows[i]], tail)


class _GroupInsert:
    """The events of one group commit, with few statements: chain heads and known ids
    are read once per group, rows are written with one executemany per table, and each
    gateway's head is updated once."""

    def __init__(self, tx: Tx, lock: str) -> None:
        self._tx = tx
        self._lock = lock
        self._heads: dict[str, ChainHead] = {}
        self._seen: set[str] = set()
        #: event id -> (event hash, integrity, note) of events stored by this group
        self._stored: dict[str, tuple[str, str, str]] = {}
        #: (gateway, sequence) -> hash of the first event of this group at that place
        self._placed: dict[tuple[str, int], str] = {}
        self._rows: list[list[list[tuple[object, ...]]]] = []

    def run(
        self, items: Sequence[tuple[NewEvent, Sequence[StoredBlob], ChainClassifier]]
    ) -> list[InsertOutcome]:
        # sorted: concurrent writers (PostgreSQL) lock gateway rows in one order
        for gateway_id in sorted({new.event.gateway_id for new, _, _ in items}):
            head = self._tx.row(
                "SELECT last_sequence, last_hash FROM gateways WHERE id = ?" + self._lock,
                (gateway_id,),
            )
            if head is None:
                raise NotFoundError(f"gateway {gateway_id!r} is not registered")
            self._heads[gateway_id] = ChainHead(int(head[0]), head[1])
        self._stored = self._known([new.event.event_id for new, _, _ in items])
        outcomes = [self._one(new, blobs, classify) for new, blobs, classify in items]
        _write_rows(self._tx, self._rows)
        now = max((new.received_at_us for new, _, _ in items), default=0)
        for gateway_id in sorted(self._seen):
            moved = self._heads[gateway_id]
            self._tx.run(
                "UPDATE gateways SET last_sequence = ?, last_hash = ?, last_seen_us = ?"
                " WHERE id = ?",
                (moved.last_sequence, moved.last_hash, now, gateway_id),
            )
        return outcomes

    def _known(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        known: dict[str, tuple[str, str, str]] = {}
        for part in chunks(list(dict.fromkeys(ids))):
            rows = self._tx.rows(
                "SELECT id, event_hash, integrity, integrity_note FROM events"
                f" WHERE id IN {in_list(len(part))}",
                part,
            )
            known.update((str(r[0]), (str(r[1]), str(r[2]), str(r[3]))) for r in rows)
        return known

    def _hash_at(self, gateway_id: str, seq: int) -> str | None:
        r = self._tx.row(
            "SELECT event_hash FROM events WHERE gateway_id = ? AND sequence = ?"
            " ORDER BY received_at_us LIMIT 1",
            (gateway_id, seq),
        )
        return str(r[0]) if r is not None else self._placed.get((gateway_id, seq))

    def _one(
        self, new: NewEvent, blobs: Sequence[StoredBlob], classify: ChainClassifier
    ) -> InsertOutcome:
        e = new.event
        known = self._stored.get(e.event_id)
        if known is not None:
            same = known[0] == new.event_hash
            return InsertOutcome("duplicate" if same else "conflict", known[1], known[2])
        gw = e.gateway_id
        decision = classify(self._heads[gw], partial(self._hash_at, gw))
        self._rows.append(_rows_of(new, blobs, decision.integrity, decision.note))
        self._stored[e.event_id] = (new.event_hash, decision.integrity, decision.note)
        self._placed.setdefault((gw, e.sequence), new.event_hash)
        self._seen.add(gw)
        if decision.advance:
            self._heads[gw] = ChainHead(e.sequence, new.event_hash)
        if decision.integrity != "ok":
            problem = f"event {e.event_id} seq {e.sequence}: {decision.integrity}: {decision.note}"
            append_problem(self._tx, gw, problem, self._lock)
        return InsertOutcome("inserted", decision.integrity, decision.note)


class SqlEvents:
    def __init__(self, db: Database) -> None:
        self._db = db

    def insert_event(
        self, new: NewEvent, blobs: Sequence[StoredBlob], classify: ChainClassifier
    ) -> InsertOutcome:
        return self.insert_events([(new, blobs, classify)])[0]

    def insert_events(
        self,
        items: Sequence[tuple[NewEvent, Sequence[StoredBlob], ChainClassifier]],
    ) -> list[InsertOutcome]:
        """Several events with their blob bytes in one durable transaction (group
        commit), in order: each is classified against the chain as the events before it
        left it. Only inserted events' blobs are written (a duplicate's are stored)."""
        with self._db.write() as tx:
            return _GroupInsert(tx, self._db.dialect.for_update).run(items)

    def import_events(
        self, items: Sequence[tuple[NewEvent, Sequence[StoredBlob], str, str]]
    ) -> None:
        """Bulk import in one transaction (migrations, benchmarks): (event, blobs,
        integrity, note) as already decided by the caller; no chain or duplicate checks."""
        with self._db.write() as tx:
            _write_rows(tx, [_rows_of(*item) for item in items])

    def get_event(self, event_id: str) -> StoredEvent | None:
        with self._db.read() as tx:
            row = tx.row(f"SELECT {EVENT_COLUMNS} FROM {_FROM} WHERE e.id = ?", (event_id,))
        return None if row is None else row_to_event(row)

    def event_blobs(self, event_id: str) -> tuple[StoredBlob, ...]:
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT eb.name, eb.role, b.media_type, b.sha256, b.size FROM event_blobs eb"
                " JOIN blobs b ON b.sha256 = eb.sha256 WHERE eb.event_id = ? ORDER BY eb.name",
                (event_id,),
            )
        return tuple(StoredBlob(r[0], r[1], r[2], r[3], int(r[4])) for r in rows)

    def search(self, query: EventQuery) -> EventPage:
        sql, params = build_search(query, EVENT_COLUMNS)
        with self._db.read() as tx:
            rows = tx.rows(sql, params)
        events = [row_to_event(r[:-2]) for r in rows[: query.limit]]
        cursor = None
        if len(rows) > query.limit:
            last = rows[query.limit - 1]
            cursor = f"{int(last[-2])}:{last[-1]}"
        return EventPage(tuple(events), cursor)

    def set_verdict(
        self, event_id: str, verdict: Verdict, note: str, reviewer: str, at_us: int
    ) -> StoredEvent:
        with self._db.write() as tx:
            n = tx.run(
                "UPDATE events SET verdict = ?, verdict_note = ?, verdict_by = ?,"
                " verdict_at_us = ?, case_open = ? WHERE id = ?",
                (verdict, note, reviewer, at_us, 1 if verdict == "confirmed" else 0, event_id),
            )
            if n == 0:
                raise NotFoundError(f"no event {event_id!r} in the store")
            tx.run(
                "INSERT INTO verdicts (event_id, at_us, verdict, note, reviewer)"
                " VALUES (?, ?, ?, ?, ?)",
                (event_id, at_us, verdict, note, reviewer),
            )
        stored = self.get_event(event_id)
        assert stored is not None
        return stored

    def verdict_history(self, event_id: str) -> tuple[VerdictRecord, ...]:
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT verdict, note, reviewer, at_us FROM verdicts WHERE event_id = ?"
                " ORDER BY at_us, reviewer",
                (event_id,),
            )
        return tuple(VerdictRecord(r[0], r[1], r[2], int(r[3])) for r in rows)

    def set_case_open(self, event_id: str, case_open: bool) -> None:
        with self._db.write() as tx:
            n = tx.run(
                "UPDATE events SET case_open = ? WHERE id = ?", (1 if case_open else 0, event_id)
            )
        if n == 0:
            raise NotFoundError(f"no event {event_id!r} in the store")

    def counts(self) -> EventCounts:
        with self._db.read() as tx:
            by_integrity = tx.rows("SELECT integrity, COUNT(*) FROM events GROUP BY integrity")
            by_verdict = tx.rows("SELECT verdict, COUNT(*) FROM events GROUP BY verdict")
        integ = {str(k): int(n) for k, n in by_integrity}
        verd = {("pending" if k is None else str(k)): int(n) for k, n in by_verdict}
        return EventCounts(sum(integ.values()), integ, verd)

    def expired_event_ids(self, captured_before_us: int, limit: int) -> list[str]:
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT id FROM events WHERE captured_at_us < ?"
                " AND NOT (verdict = 'confirmed' AND case_open = 1)"
                " ORDER BY captured_at_us, id LIMIT ?",
                (captured_before_us, limit),
            )
        return [str(r[0]) for r in rows]

    def delete_events(self, event_ids: Sequence[str]) -> list[str]:
        orphans: list[str] = []
        with self._db.write() as tx:
            for part in chunks(list(event_ids)):
                marks = in_list(len(part))
                shas = [
                    str(r[0])
                    for r in tx.rows(
                        f"SELECT DISTINCT sha256 FROM event_blobs WHERE event_id IN {marks}", part
                    )
                ]
                for table in ("event_blobs", "event_subjects", "event_plates", "verdicts"):
                    tx.run(f"DELETE FROM {table} WHERE event_id IN {marks}", part)
                tx.run(f"DELETE FROM events WHERE id IN {marks}", part)
                for sha in shas:
                    if tx.row("SELECT 1 FROM event_blobs WHERE sha256 = ? LIMIT 1", (sha,)) is None:
                        tx.run("DELETE FROM blobs WHERE sha256 = ?", (sha,))
                        tx.run("DELETE FROM blob_data WHERE sha256 = ?", (sha,))
                        orphans.append(sha)
        return orphans

    def events_of_chain(self, gateway_id: str, from_seq: int, to_seq: int) -> list[StoredEvent]:
        with self._db.read() as tx:
            rows = tx.rows(
                f"SELECT {EVENT_COLUMNS} FROM {_FROM} WHERE e.gateway_id = ?"
                " AND e.sequence >= ? AND e.sequence <= ? ORDER BY e.sequence, e.id",
                (gateway_id, from_seq, to_seq),
            )
        return [row_to_event(r) for r in rows]
