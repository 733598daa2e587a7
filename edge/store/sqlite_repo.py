"""SQLite adapter: WAL, synchronous=FULL, one writer, a read connection per thread.

A commit returns only after the WAL is fsynced, so an ack sent after commit survives a
power cut. Writers are serialised in-process by a lock (SQLite allows one writer);
readers use their own connections and never wait for a writer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from edge.errors import StoreError
from edge.store.sql import SQLITE, Dialect, Params, Row
from edge.store.sql_repo import SqlRepository

log = logging.getLogger(__name__)

#: Evidence images (~50 KB) live in the database: with 16 KiB pages an image spans a
#: few pages instead of a dozen, so a commit writes a quarter of the WAL frames (each a
#: system call or two). Measured: store CPU per event back at the pack-file level
#: (bench/RESULTS.md, "evidence in the database").
PAGE_SIZE = 16384


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def row(self, sql: str, params: Params = ()) -> Row | None:
        r: Row | None = self._conn.execute(sql, tuple(params)).fetchone()
        return r

    def run(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount

    def run_many(self, sql: str, params: Sequence[Params]) -> None:
        if params:
            self._conn.executemany(sql, [tuple(p) for p in params])


class SqliteDatabase:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._writer: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    @property
    def dialect(self) -> Dialect:
        return SQLITE

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                str(self._path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except sqlite3.Error as e:
            raise StoreError(f"cannot open SQLite database {str(self._path)!r}: {e}") from None
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA synchronous = FULL")
        # purged evidence (retention) is overwritten with zeros, not left in free pages
        conn.execute("PRAGMA secure_delete = ON")
        return conn

    def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        # only takes effect on a new database (before WAL mode); see PAGE_SIZE
        self._writer.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        mode = self._writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self._path}: SQLite refused WAL mode (got {mode!r})")

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
        if self._writer is not None:
            with self._lock:
                self._writer.close()
                self._writer = None

    def migrate(self, statements: Sequence[str]) -> None:
        with self.write() as tx:
            for stmt in statements:
                tx.run(stmt)

    @contextmanager
    def write(self) -> Iterator[_SqliteTx]:
        with self._lock:
            conn = self._writer
            if conn is None:
                raise StoreError("the SQLite database is not open")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._writer is None:
                raise StoreError("the SQLite database is not open")
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def read(self) -> Iterator[_SqliteTx]:
        conn = self._reader()
        conn.execute("BEGIN")  # one snapshot for multi-statement reads
        try:
            yield _SqliteTx(conn)
        finally:
            conn.execute("COMMIT")


def sqlite_repository(path: Path) -> SqlRepository:
    """Build (not open) a repository on a SQLite file; call .open() to use it."""
    return SqlRepository(SqliteDatabase(path))
