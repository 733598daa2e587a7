"""The outbox's SQLite file: schema, single-process lock, integrity check, WAL setup."""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path
from typing import IO

from edge.errors import StoreError
from edge.gateway.chainstate import CHAIN_SCHEMA

SCHEMA_VERSION = 1
MAX_RESUME_MARKS = 100_000
_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS outbox (
        sequence      INTEGER PRIMARY KEY,
        event_id      TEXT    NOT NULL UNIQUE,
        event_hash    TEXT    NOT NULL,
        payload       BLOB    NOT NULL,
        size          INTEGER NOT NULL,
        created_at_us INTEGER NOT NULL
    )
    """,
    CHAIN_SCHEMA,
    "CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # events the store rejected for good (bad signature, limits): kept, never resent
    """
    CREATE TABLE IF NOT EXISTS quarantine (
        sequence      INTEGER PRIMARY KEY,
        event_id      TEXT    NOT NULL UNIQUE,
        payload       BLOB    NOT NULL,
        reason        TEXT    NOT NULL,
        at_us         INTEGER NOT NULL
    )
    """,
    # how far each recorded input (file, dropped picture) has become evidence; written
    # in the event's transaction so a crash can neither repeat nor lose a match
    "CREATE TABLE IF NOT EXISTS resume_marks ("
    " key TEXT PRIMARY KEY, position INTEGER NOT NULL, at_us INTEGER NOT NULL DEFAULT 0)",
)


def is_disk_full(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(e)


def take_lock(path: Path) -> IO[bytes]:
    """An exclusive lock beside ``path``: one gateway process per outbox."""
    lock = path.with_name(path.name + ".lock").open("a+b")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise StoreError(
            f"outbox {path} is in use by another process; one gateway per data_dir"
        ) from None
    return lock


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating) the outbox database: WAL, synchronous=FULL, checked, schema."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"outbox {path}: cannot enable WAL (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise StoreError(f"integrity check failed: {result}")
        for stmt in _SCHEMA:
            conn.execute(stmt)
        conn.execute(
            "INSERT OR IGNORE INTO outbox_meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        # marks of long-finished inputs are no longer needed; keep the newest only
        conn.execute(
            "DELETE FROM resume_marks WHERE key NOT IN "
            "(SELECT key FROM resume_marks ORDER BY at_us DESC LIMIT ?)",
            (MAX_RESUME_MARKS,),
        )
    except BaseException:
        conn.close()
        raise
    return conn
