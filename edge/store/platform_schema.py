"""Tables of the platform integration (GA/T 1400 push queue, dispatch rules and what
they matched), in one place, for SQLite and PostgreSQL alike.

They are created by ``platform_statements`` next to the core schema (IF NOT EXISTS,
so opening an older database adds them) and reference events only by id: retention
may purge an event while a push of it waits (the push then fails with that reason,
visibly), and nothing here blocks a purge.
"""

from __future__ import annotations

from edge.store.sql import Database, Dialect

_TABLES = """
CREATE TABLE IF NOT EXISTS viid_push (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_us BIGINT NOT NULL,
    lease_until_us BIGINT NOT NULL DEFAULT 0,
    last_status TEXT NOT NULL DEFAULT '',
    delivered_at_us BIGINT,
    object_ids TEXT NOT NULL DEFAULT '[]',
    payload TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_viid_push_event ON viid_push (event_id, kind);
CREATE INDEX IF NOT EXISTS ix_viid_push_due ON viid_push (state, next_attempt_us);
CREATE TABLE IF NOT EXISTS dispatch_rules (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    rule_json TEXT NOT NULL,
    updated_at_us BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rule_hits (
    event_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    actions TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    state TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, rule_id)
);
CREATE INDEX IF NOT EXISTS ix_rule_hits_state ON rule_hits (state, at_us)
"""


def platform_statements(dialect: Dialect) -> list[str]:
    del dialect  # the same text on both: only portable types are used
    return [s.strip() for s in _TABLES.split(";") if s.strip()]


def columns(db: Database, table: str) -> set[str]:
    """Column names of ``table`` (lower case)."""
    with db.read() as tx:
        if db.dialect.name == "sqlite":
            rows = tx.rows(f"PRAGMA table_info({table})")
            return {str(r[1]).lower() for r in rows}
        rows = tx.rows(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        )
        return {str(r[0]).lower() for r in rows}


def add_column(db: Database, table: str, column: str, ddl: str) -> None:
    """Add ``column`` to an existing table once (SQLite has no ADD COLUMN IF NOT EXISTS).

    Concurrent openers of one PostgreSQL database may race; IF NOT EXISTS settles it
    there, and SQLite has a single writer per file.
    """
    if column.lower() in columns(db, table):
        return
    guard = " IF NOT EXISTS" if db.dialect.name == "postgresql" else ""
    db.migrate([f"ALTER TABLE {table} ADD COLUMN{guard} {column} {ddl}"])
