"""Evidence bytes in the database (edge/store/blobs.py) on SQLite and PostgreSQL:
content addressed, hash checked on write and on every read."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from edge.errors import EvidenceError, NotFoundError
from edge.store.postgres_repo import postgres_repository
from edge.store.sql_repo import SqlRepository
from edge.store.sqlite_repo import sqlite_repository

#: overwrites a stored blob's bytes behind the store's back (disk damage, an edit)
Damage = Callable[[str, bytes], None]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlRepository, Damage]]:
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        repo = sqlite_repository(path)

        def damage(sha: str, data: bytes) -> None:
            with contextlib.closing(sqlite3.connect(path)) as c, c:
                c.execute("UPDATE blob_data SET data = ? WHERE sha256 = ?", (data, sha))

    else:
        url = request.getfixturevalue("pg_url")
        repo = postgres_repository(url)

        def damage(sha: str, data: bytes) -> None:
            with psycopg.connect(url, autocommit=True) as c:
                c.execute("UPDATE blob_data SET data = %s WHERE sha256 = %s", (data, sha))

    repo.open()
    try:
        yield repo, damage
    finally:
        repo.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_get_is_content_addressed_and_idempotent(store: tuple[SqlRepository, Damage]) -> None:
    blobs = store[0].blobs
    a, b = b"\xff\xd8 first image", b"\xff\xd8 second image"
    blobs.put_many([(sha(a), a), (sha(b), b), (sha(a), a)])
    blobs.put(sha(a), a)  # again: nothing changes
    assert (blobs.get(sha(a)), blobs.get(sha(b))) == (a, b)
    assert blobs.missing([sha(b), sha(b"other"), sha(a)]) == [sha(b"other")]
    blobs.delete(sha(a))
    assert not blobs.exists(sha(a)) and blobs.exists(sha(b))


def test_wrong_hash_is_refused_and_nothing_is_written(store: tuple[SqlRepository, Damage]) -> None:
    blobs = store[0].blobs
    with pytest.raises(EvidenceError, match="not the declared"):
        blobs.put_many([(sha(b"ok"), b"ok"), (sha(b"claimed"), b"sent")])
    assert blobs.missing([sha(b"ok"), sha(b"claimed")]) == [sha(b"ok"), sha(b"claimed")]


def test_damaged_bytes_are_never_served(store: tuple[SqlRepository, Damage]) -> None:
    repo, damage = store
    data = b"\xff\xd8 evidence"
    repo.blobs.put(sha(data), data)
    damage(sha(data), b"\xff\xd8 edited")
    with pytest.raises(EvidenceError, match="damaged"):
        repo.blobs.get(sha(data))


def test_missing_and_badly_named_blobs(store: tuple[SqlRepository, Damage]) -> None:
    blobs = store[0].blobs
    with pytest.raises(NotFoundError, match="not in the store"):
        blobs.get(sha(b"never stored"))
    with pytest.raises(EvidenceError, match="64 lowercase hex"):
        blobs.get("../../etc/passwd")
