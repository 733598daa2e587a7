"""The thin seam between the shared SQL and a concrete database.

The repository code writes portable SQL with ``?`` placeholders; a ``Database``
adapter (SQLite or PostgreSQL) runs it inside read or write transactions. All values
are bound parameters: no filter text is ever spliced into SQL.
"""

from __future__ import annotations

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
