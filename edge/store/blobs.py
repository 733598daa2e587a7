"""Evidence blobs (JPEGs, evidence packages) in the database, content addressed by sha256.

Decision (issue 11; measured in bench/RESULTS.md, "evidence in the database"): the
bytes live in the table ``blob_data`` of the store's own database (SQLite BLOB,
PostgreSQL bytea), and ingest writes them in the same transaction as the event rows
that name them (edge/store/sql_events.py). So an acked event always has its images,
there is no second durable store to keep consistent (the former pack files had their
own index, recovery and an exclusive lock that tied a blob folder to one process), and
every store process on one PostgreSQL database reads and purges the same evidence.
Retention deletes an event's unshared blobs in the transaction that deletes the event.

The hash is checked on every read: a blob is exactly the bytes its name says.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol

from edge.errors import EvidenceError, NotFoundError
from edge.store.sql import Database, chunks, in_list, insert_rows

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: insert head and tail of blob rows (shared with the event group insert)
BLOB_INSERT = ("INSERT INTO blob_data (sha256, data) VALUES", "ON CONFLICT (sha256) DO NOTHING")


class BlobStore(Protocol):
    def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` durably; EvidenceError if its sha256 is not ``sha256``."""
        ...

    def put_many(self, items: Sequence[tuple[str, bytes]], verified: bool = False) -> None:
        """``put`` for several blobs, durable together when it returns.

        ``verified=True``: the caller has just computed each sha256 from these exact
        bytes, so they are not hashed again.
        """
        ...

    def get(self, sha256: str) -> bytes:
        """The verified bytes; NotFoundError / EvidenceError when missing / damaged."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def missing(self, shas: Sequence[str]) -> list[str]:
        """Those of ``shas`` that are not stored, in order."""
        ...

    def delete(self, sha256: str) -> None: ...


def check_name(sha256: str) -> None:
    if not _SHA256.match(sha256):
        raise EvidenceError(f"blob id {sha256[:80]!r} is not 64 lowercase hex characters")


def check_content(sha256: str, data: bytes) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise EvidenceError(
            f"blob content hashes to {actual[:16]}..., not the declared {sha256[:16]}..."
        )


class SqlBlobs:
    """``BlobStore`` on the repository's database (table ``blob_data``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, sha256: str, data: bytes) -> None:
        self.put_many([(sha256, data)])

    def put_many(self, items: Sequence[tuple[str, bytes]], verified: bool = False) -> None:
        rows: dict[str, bytes] = {}
        for sha256, data in items:
            check_name(sha256)
            if not verified:
                check_content(sha256, data)
            rows[sha256] = data
        if rows:
            with self._db.write() as tx:  # content addressed: a stored name has these bytes
                insert_rows(tx, BLOB_INSERT[0], list(rows.items()), BLOB_INSERT[1])

    def get(self, sha256: str) -> bytes:
        check_name(sha256)
        with self._db.read() as tx:
            row = tx.row("SELECT data FROM blob_data WHERE sha256 = ?", (sha256,))
        if row is None:
            raise NotFoundError(f"blob {sha256[:16]}... is not in the store")
        data = bytes(row[0])
        if hashlib.sha256(data).hexdigest() != sha256:
            raise EvidenceError(f"blob {sha256[:16]}... is damaged (hash mismatch)")
        return data

    def exists(self, sha256: str) -> bool:
        check_name(sha256)
        return not self.missing([sha256])

    def missing(self, shas: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(shas))
        have: set[str] = set()
        with self._db.read() as tx:
            for part in chunks(wanted):
                q = f"SELECT sha256 FROM blob_data WHERE sha256 IN {in_list(len(part))}"
                have.update(str(r[0]) for r in tx.rows(q, part))
        return [s for s in wanted if s not in have]

    def delete(self, sha256: str) -> None:
        check_name(sha256)
        with self._db.write() as tx:
            tx.run("DELETE FROM blob_data WHERE sha256 = ?", (sha256,))
