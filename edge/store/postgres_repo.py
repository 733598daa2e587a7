"""PostgreSQL adapter (psycopg 3 with psycopg_pool): pooled connections, row locks.

Commits are durable with PostgreSQL's default synchronous_commit. Several store
processes may share one database: per-gateway chains and the audit/watchlist heads are
serialised by SELECT ... FOR UPDATE on their rows, and schema creation by an advisory
lock.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from edge.errors import StoreError
from edge.store.config import PostgresPool
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
    """A ``Database`` on PostgreSQL through a psycopg_pool ``ConnectionPool``."""

    def __init__(self, url: str, pool: PostgresPool | None = None) -> None:
        self._url = url
        self._settings = pool or PostgresPool()
        self._pool: ConnectionPool[psycopg.Connection[tuple[object, ...]]] | None = None

    @property
    def dialect(self) -> Dialect:
        return POSTGRES

    def open(self) -> None:
        s = self._settings
        pool: ConnectionPool[psycopg.Connection[tuple[object, ...]]] = ConnectionPool(
            self._url,
            kwargs={"autocommit": False, "connect_timeout": s.connect_timeout_s},
            min_size=s.min_size,
            max_size=s.max_size,
            open=False,
            # a connection PostgreSQL dropped (restart, failover, idle kill) is replaced
            # when taken, not handed to a request that would fail on it
            check=ConnectionPool.check_connection,
            timeout=s.checkout_timeout_s,
            max_lifetime=s.max_lifetime_s,
            max_idle=s.max_idle_s,
            name="edgewatch-store",
        )
        try:
            pool.open(wait=True, timeout=s.connect_timeout_s)  # fail fast on a wrong URL
        except PoolTimeout:
            reason = _first_error(self._url, s.connect_timeout_s)
            pool.close()
            raise StoreError(f"cannot connect to PostgreSQL: {reason}") from None
        self._pool = pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        pool = self._pool
        if pool is None:
            raise StoreError("the PostgreSQL database is not open")
        try:
            with pool.connection() as conn:
                yield conn
        except PoolTimeout:
            raise StoreError(
                f"no PostgreSQL connection within {self._settings.checkout_timeout_s:g} s "
                f"(all {self._settings.max_size} of database.pool.max_size busy, "
                "or PostgreSQL unreachable)"
            ) from None

    @contextmanager
    def write(self) -> Iterator[_PgTx]:
        with self._conn() as conn:
            try:
                yield _PgTx(conn)
            except BaseException:
                _rollback(conn)
                raise
            conn.commit()

    @contextmanager
    def read(self) -> Iterator[_PgTx]:
        with self._conn() as conn:
            try:
                yield _PgTx(conn)
            finally:
                _rollback(conn)

    def migrate(self, statements: Sequence[str]) -> None:
        with self.write() as tx:
            tx.run("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            for stmt in statements:
                tx.run(stmt)


def _rollback(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """End the transaction; on a connection PostgreSQL dropped there is nothing to end
    (the pool discards it), and the error that brought us here is the one to raise."""
    if not conn.closed:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()


def _first_error(url: str, timeout_s: int) -> str:
    """Why connecting fails, as PostgreSQL or libpq says it (never the URL: it may
    carry a password)."""
    try:
        psycopg.connect(url, connect_timeout=timeout_s).close()
    except psycopg.Error as e:
        return str(e).strip()
    return f"no connection within {timeout_s} s"


def postgres_repository(url: str, pool: PostgresPool | None = None) -> SqlRepository:
    """Build (not open) a repository on a PostgreSQL database; call .open() to use it."""
    return SqlRepository(PostgresDatabase(url, pool))
