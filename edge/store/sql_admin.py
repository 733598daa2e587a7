"""Gateways, users and the audit log in SQL (shared by SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Collection

from edge.evidence.model import GENESIS_HASH
from edge.store.audit_chain import AUDIT_GENESIS, audit_entry_hash, events_named
from edge.store.repository import AuditEntry, ChainHead, GatewayInfo, User
from edge.store.sql import Database, Row, Tx, chunks, in_list
from edge.store.sql_events import append_problem

_AUDIT_COLUMNS = "seq, at_us, actor, action, detail_json, prev_hash, entry_hash"
_INDEX_SUBJECT = (
    "INSERT INTO audit_subjects (event_id, audit_seq) VALUES (?, ?)"
    " ON CONFLICT (event_id, audit_seq) DO NOTHING"
)
_BACKFILL_PAGE = 5000
_GW_COLUMNS = (
    "id, public_key, registered_at_us, last_heartbeat_us, health_json, last_sequence,"
    " last_hash, problems_json, face_model_id, cert_fingerprint, revoked, last_seen_us"
)


def _gateway(r: Row) -> GatewayInfo:
    return GatewayInfo(
        gateway_id=r[0],
        public_key=bytes(r[1]),
        registered_at_us=int(r[2]),
        last_heartbeat_us=None if r[3] is None else int(r[3]),
        health_json=r[4],
        head=ChainHead(int(r[5]), r[6]),
        problems=tuple(json.loads(r[7])),
        face_model_id=r[8],
        cert_fingerprint=r[9],
        revoked=bool(r[10]),
        last_seen_us=None if r[11] is None else int(r[11]),
    )


class SqlGateways:
    def __init__(self, db: Database) -> None:
        self._db = db

    def register_gateway(
        self, gateway_id: str, public_key: bytes, cert_fingerprint: str | None, at_us: int
    ) -> GatewayInfo:
        with self._db.write() as tx:
            n = tx.run(
                "UPDATE gateways SET public_key = ?, cert_fingerprint = ?, revoked = 0"
                " WHERE id = ?",
                (public_key, cert_fingerprint, gateway_id),
            )
            if n == 0:
                tx.run(
                    "INSERT INTO gateways (id, public_key, registered_at_us, last_hash,"
                    " cert_fingerprint) VALUES (?, ?, ?, ?, ?)",
                    (gateway_id, public_key, at_us, GENESIS_HASH, cert_fingerprint),
                )
        info = self.get_gateway(gateway_id)
        assert info is not None
        return info

    def revoke_gateway(self, gateway_id: str) -> GatewayInfo | None:
        with self._db.write() as tx:
            tx.run("UPDATE gateways SET revoked = 1 WHERE id = ?", (gateway_id,))
        return self.get_gateway(gateway_id)

    def get_gateway(self, gateway_id: str) -> GatewayInfo | None:
        with self._db.read() as tx:
            r = tx.row(f"SELECT {_GW_COLUMNS} FROM gateways WHERE id = ?", (gateway_id,))
        return None if r is None else _gateway(r)

    def list_gateways(self) -> list[GatewayInfo]:
        with self._db.read() as tx:
            rows = tx.rows(f"SELECT {_GW_COLUMNS} FROM gateways ORDER BY id")
        return [_gateway(r) for r in rows]

    def record_heartbeat(
        self, gateway_id: str, at_us: int, health_json: str, face_model_id: str | None
    ) -> None:
        with self._db.write() as tx:
            tx.run(
                "UPDATE gateways SET last_heartbeat_us = ?, last_seen_us = ?, health_json = ?,"
                " face_model_id = ? WHERE id = ?",
                (at_us, at_us, health_json, face_model_id, gateway_id),
            )

    def add_problem(self, gateway_id: str, problem: str) -> None:
        with self._db.write() as tx:
            append_problem(tx, gateway_id, problem, self._db.dialect.for_update)


class SqlUsers:
    def __init__(self, db: Database) -> None:
        self._db = db

    def put_user(self, user: User) -> None:
        with self._db.write() as tx:
            tx.run(
                "DELETE FROM users WHERE name = ? OR token_sha256 = ?",
                (user.name, user.token_sha256),
            )
            tx.run(
                "INSERT INTO users (name, role, token_sha256, created_at_us, revoked)"
                " VALUES (?, ?, ?, ?, ?)",
                (user.name, user.role, user.token_sha256, user.created_at_us, int(user.revoked)),
            )

    def revoke_user(self, name: str) -> User | None:
        with self._db.write() as tx:
            tx.run("UPDATE users SET revoked = 1 WHERE name = ?", (name,))
            r = tx.row(
                "SELECT name, role, token_sha256, created_at_us, revoked FROM users WHERE name = ?",
                (name,),
            )
        return None if r is None else User(r[0], r[1], r[2], int(r[3]), bool(r[4]))

    def user_by_token_hash(self, token_sha256: str) -> User | None:
        with self._db.read() as tx:
            r = tx.row(
                "SELECT name, role, token_sha256, created_at_us, revoked FROM users"
                " WHERE token_sha256 = ?",
                (token_sha256,),
            )
        return None if r is None else User(r[0], r[1], r[2], int(r[3]), bool(r[4]))

    def list_users(self) -> list[User]:
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT name, role, token_sha256, created_at_us, revoked FROM users ORDER BY name"
            )
        return [User(r[0], r[1], r[2], int(r[3]), bool(r[4])) for r in rows]


class SqlAudit:
    """Append-only: no update or delete of audit_log exists anywhere in the code."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, at_us: int, actor: str, action: str, detail_json: str) -> AuditEntry:
        lock = self._db.dialect.for_update
        with self._db.write() as tx:
            # the counters row is the chain head; locking it serialises appenders
            head = tx.row("SELECT value, hash FROM counters WHERE name = 'audit'" + lock)
            assert head is not None, "counters are seeded when the schema is created"
            seq, prev = int(head[0]) + 1, str(head[1])
            entry_hash = audit_entry_hash(seq, at_us, actor, action, detail_json, prev)
            tx.run(
                f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, at_us, actor, action, detail_json, prev, entry_hash),
            )
            # same transaction: an entry is never in the log without its index rows
            tx.run_many(_INDEX_SUBJECT, [(i, seq) for i in sorted(events_named(detail_json))])
            tx.run(
                "UPDATE counters SET value = ?, hash = ? WHERE name = 'audit'", (seq, entry_hash)
            )
        return AuditEntry(seq, at_us, actor, action, detail_json, prev, entry_hash)

    def entries(self, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        with self._db.read() as tx:
            rows = tx.rows(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
        return [_audit_entry(r) for r in rows]

    def entries_about(self, event_ids: Collection[str], limit: int = 10_000) -> list[AuditEntry]:
        """Looked up in audit_subjects by event id: the log itself is never scanned."""
        found: dict[int, AuditEntry] = {}
        with self._db.read() as tx:
            for part in chunks(sorted(set(event_ids))):
                rows = tx.rows(audit_about_sql(len(part)), (*part, limit))
                found.update((int(r[0]), _audit_entry(r)) for r in rows)
        return [found[seq] for seq in sorted(found)[:limit]]

    def head(self) -> tuple[int, str]:
        with self._db.read() as tx:
            r = tx.row("SELECT value, hash FROM counters WHERE name = 'audit'")
        return (0, AUDIT_GENESIS) if r is None else (int(r[0]), str(r[1]))


def _audit_entry(r: Row) -> AuditEntry:
    return AuditEntry(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6])


def audit_about_sql(n_ids: int) -> str:
    """Entries naming any of n event ids, oldest first; binds the ids, then the limit."""
    return (
        f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE seq IN"
        f" (SELECT audit_seq FROM audit_subjects WHERE event_id IN {in_list(n_ids)})"
        " ORDER BY seq LIMIT ?"
    )


def index_audit_subjects(tx: Tx) -> int:
    """Backfill audit_subjects from the whole log (upgrade from schema 1); returns rows."""
    after, written = 0, 0
    while True:
        page = tx.rows(
            "SELECT seq, detail_json FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, _BACKFILL_PAGE),
        )
        rows = [(i, int(seq)) for seq, detail in page for i in sorted(events_named(detail))]
        tx.run_many(_INDEX_SUBJECT, rows)
        written += len(rows)
        if len(page) < _BACKFILL_PAGE:
            return written
        after = int(page[-1][0])
