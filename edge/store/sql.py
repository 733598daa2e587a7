"""The thin seam between the shared SQL and a concrete database.

The repository code writes portable SQL with ``?`` placeholders; a ``Database``
adapter (SQLite or PostgreSQL) runs it inside read or write transactions. All values
are bound parameters: no filter text is ever spliced into SQL.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

Row = tuple[Any, ...]
Params = Sequence[Any]


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str  # "sqlite" | "postgresql"
    blob: str  # column type for bytes
    real: str  # column type for floats
    for_update: str  # row-lock suffix for SELECT inside a write transaction


SQLITE = Dialect(name="sqlite", blob="BLOB", real="REAL", for_update="")
POSTGRES = Dialect(
    name="postgresql", blob="BYTEA", real="DOUBLE PRECISION", for_update=" FOR UPDATE"
)


class Tx(Protocol):
    """One open transaction (or autocommit read) on one connection."""

    def rows(self, sql: str, params: Params = ()) -> list[Row]: ...

    def row(self, sql: str, params: Params = ()) -> Row | None: ...

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute a statement; returns the affected row count."""
        ...

    def run_many(self, sql: str, params: Sequence[Params]) -> None: ...


class Database(Protocol):
    @property
    def dialect(self) -> Dialect: ...

    def open(self) -> None: ...

    def close(self) -> None: ...

    def migrate(self, statements: Sequence[str]) -> None:
        """Run the idempotent schema statements (serialised against other processes)."""
        ...

    def write(self) -> AbstractContextManager[Tx]:
        """A serialised read-write transaction, committed durably on clean exit."""
        ...

    def read(self) -> AbstractContextManager[Tx]: ...


def in_list(n: int) -> str:
    """``(?, ?, ?)`` for n bound values."""
    return "(" + ", ".join("?" for _ in range(n)) + ")"


def chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@functools.lru_cache(maxsize=64)
def values_list(width: int, count: int) -> str:
    """``(?, ?), (?, ?), ...``: ``count`` rows of ``width`` bound values."""
    one = in_list(width)
    return ", ".join(one for _ in range(count))


def insert_rows(tx: Tx, head: str, rows: Sequence[Params], tail: str = "") -> None:
    """``head`` ("INSERT INTO t (a, b) VALUES") for every row, several rows per statement.

    One statement per ~500 rows instead of one execution per row: Python's sqlite3
    releases and re-takes the GIL around every executed row, and while the store's
    reader threads are busy each re-take waits its turn, which made a group commit of a
    few hundred events several times slower than the same work with one statement.
    """
    if not rows:
        return
    width = len(rows[0])
    per = max(1, min(500, 30_000 // width))  # SQLite binds at most 32,766 values
    for i in range(0, len(rows), per):
        part = rows[i : i + per]
        sql = f"{head} {values_list(width, len(part))}{' ' + tail if tail else ''}"
        tx.run(sql, [v for row in part for v in row])
