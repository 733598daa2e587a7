"""PostgreSQL adapter (psycopg 3): a small connection pool, row locks for chains.

Commits are durable with PostgreSQL's default synchronous_commit. Several store
processes may share one database: per-gateway chains and the audit/watchlist heads are
serialised by SELECT ... FOR UPDATE on their rows, and schema creation by an advisory
lock.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg

from edge.errors import StoreError
from edge.store.sql import POSTGRES, Dialect, Params, Row
from edge.store.sql_repo import SqlRepository

log = logging.getLogger(__name__)

_SCHEMA_LOCK = 0x45444745  # "EDGE": advisory lock key for schema creation


@functools.lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    # the shared SQL uses "?" placeholders and contains no literal "?" or "%"
    return sql.replace("%", "%%").replace("?", "%s")


class _PgTx:
    def __init__(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        with self._conn.cursor() as cur:
            cur.execute(_pg(sql), tuple(params))
            return list(cur.fetchall())

    def row(self, sql: str, params: Params = ()) -> Row | None:
        with self._conn.cursor() as cur:
            cur.execute(_pg(sql), tuple(params))
            return cur.fetchone()

    def run(self, sql: str, params: Params = ()) -> int:
        with self._conn.cursor() as cur:
            cur.execute(_pg(sql), tuple(params))
            return cur.rowcount

    def run_many(self, sql: str, params: Sequence[Params]) -> None:
        if params:
            with self._conn.cursor() as cur:
                cur.executemany(_pg(sql), [tuple(p) for p in params])


class PostgresDatabase:
    def __init__(self, url: str, pool_size: int = 8) -> None:
        self._url = url
        self._pool_size = pool_size
        self._idle: queue.LifoQueue[psycopg.Connection[tuple[object, ...]]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._open = False

    @property
    def dialect(self) -> Dialect:
        return POSTGRES

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(self._url, autocommit=False, connect_timeout=10)
        except psycopg.Error as e:
            # the URL may carry a password: name only the failure
            raise StoreError(f"cannot connect to PostgreSQL: {str(e).strip()}") from None

    def open(self) -> None:
        self._open = True
        self._idle.put(self._connect())  # fail fast on a wrong URL

    def close(self) -> None:
        self._open = False
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            conn.close()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        if not self._open:
            raise StoreError("the PostgreSQL database is not open")
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            try:
                yield conn
            finally:
                idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                if idle and not conn.closed and self._open:
                    self._idle.put(conn)
                else:
                    conn.close()

    @contextmanager
    def write(self) -> Iterator[_PgTx]:
        with self._conn() as conn:
            try:
                yield _PgTx(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def read(self) -> Iterator[_PgTx]:
        with self._conn() as conn:
            try:
                yield _PgTx(conn)
            finally:
                conn.rollback()

    def migrate(self, statements: Sequence[str]) -> None:
        with self.write() as tx:
            tx.run("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            for stmt in statements:
                tx.run(stmt)


def postgres_repository(url: str, pool_size: int = 8) -> SqlRepository:
    """Build (not open) a repository on a PostgreSQL database; call .open() to use it."""
    return SqlRepository(PostgresDatabase(url, pool_size))
