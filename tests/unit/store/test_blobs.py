"""Pack blob store on a real temporary folder (pure file I/O, no services)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.errors import EvidenceError, NotFoundError, StoreError
from edge.store.blobs import FolderBlobStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def packs(root: Path) -> list[Path]:
    return sorted((root / "packs").glob("*.pack"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FolderBlobStore]:
    s = FolderBlobStore(tmp_path / "blobs")
    s.open()
    yield s
    s.close()


def test_put_get_is_content_addressed_and_appends_once(store: FolderBlobStore) -> None:
    data = b"\xff\xd8jpeg" * 100
    h = sha(data)
    store.put(h, data)
    size = packs(store.root)[0].stat().st_size
    store.put(h, data)  # idempotent: nothing appended
    store.put_many([(h, data), (h, data)])
    assert packs(store.root)[0].stat().st_size == size
    assert store.get(h) == data and store.exists(h)


def test_batch_is_one_pack_and_readable_after_reopen(tmp_path: Path) -> None:
    blobs = [os.urandom(n) for n in (60_000, 1_300, 0, 1_100)]
    s = FolderBlobStore(tmp_path / "b")
    s.open()
    s.put_many([(sha(b), b) for b in blobs], verified=True)
    s.close()
    again = FolderBlobStore(tmp_path / "b")
    again.open()
    assert [again.get(sha(b)) for b in blobs] == blobs
    assert len(packs(tmp_path / "b")) == 1
    again.close()


def test_wrong_hash_is_refused_and_nothing_written(store: FolderBlobStore) -> None:
    with pytest.raises(EvidenceError, match="not the declared"):
        store.put(sha(b"a"), b"b")
    assert not store.exists(sha(b"a"))
    assert packs(store.root) == []


def test_damage_on_disk_is_detected(store: FolderBlobStore) -> None:
    h = sha(b"evidence")
    store.put(h, b"evidence")
    pack = packs(store.root)[0]
    pack.write_bytes(pack.read_bytes().replace(b"evidence", b"tampered"))
    with pytest.raises(EvidenceError, match="damaged"):
        store.get(h)


def test_missing_and_bad_names(store: FolderBlobStore) -> None:
    with pytest.raises(NotFoundError):
        store.get("0" * 64)
    with pytest.raises(EvidenceError, match="64 lowercase hex"):
        store.get("../../etc/passwd")


def test_torn_tail_is_cut_and_lost_index_rows_come_back(tmp_path: Path) -> None:
    root = tmp_path / "b"
    s = FolderBlobStore(root)
    s.open()
    kept = [os.urandom(5000) for _ in range(3)]
    s.put_many([(sha(b), b) for b in kept])
    s.close()
    pack = packs(root)[0]
    good_size = pack.stat().st_size
    with pack.open("ab") as f:  # a batch cut short by a power cut
        f.write(b"EWB1" + bytes(32) + (9000).to_bytes(8, "little") + b"half")
    with sqlite3.connect(root / "index.sqlite") as db:  # index rows lost too
        db.execute("DELETE FROM blobs")
        db.execute("UPDATE packs SET indexed_to = 0, live = 0")
    again = FolderBlobStore(root)
    again.open()
    assert pack.stat().st_size == good_size
    assert [again.get(sha(b)) for b in kept] == kept
    extra = os.urandom(100)
    again.put(sha(extra), extra)  # appends after the cut
    assert again.get(sha(extra)) == extra
    again.close()


def test_delete_erases_bytes_and_drops_empty_packs(tmp_path: Path) -> None:
    root = tmp_path / "b"
    s = FolderBlobStore(root, pack_bytes=10_000)
    s.open()
    secret, other, newer = b"S" * 10_000, b"O" * 3000, b"N" * 100
    s.put(sha(secret), secret)
    s.put(sha(other), other)  # pack 1 is full now: pack 2 takes the rest
    s.put(sha(newer), newer)
    assert len(packs(root)) == 2
    s.delete(sha(secret))
    s.delete(sha(secret))
    assert not s.exists(sha(secret))
    assert len(packs(root)) == 1  # pack 1 had nothing else
    s.delete(sha(other))  # pack 2 is still written to: erased in place
    assert b"O" * 100 not in packs(root)[0].read_bytes()
    assert s.get(sha(newer)) == newer
    s.close()
    again = FolderBlobStore(root)
    again.open()
    assert not again.exists(sha(other)) and again.get(sha(newer)) == newer
    again.close()


def test_second_owner_is_refused(store: FolderBlobStore) -> None:
    with pytest.raises(StoreError, match="in use by another process"):
        FolderBlobStore(store.root).open()


def test_one_file_layout_is_still_read_and_deleted(tmp_path: Path) -> None:
    root = tmp_path / "b"
    h = sha(b"old evidence")
    (root / h[:2]).mkdir(parents=True)
    (root / h[:2] / h).write_bytes(b"old evidence")
    (root / "tmp").mkdir()
    (root / "tmp" / "half-written").write_bytes(b"x")
    s = FolderBlobStore(root)
    s.open()
    assert list((root / "tmp").iterdir()) == []
    assert s.exists(h) and s.get(h) == b"old evidence"
    s.put(h, b"old evidence")  # already stored: not appended again
    assert packs(root) == []
    s.delete(h)
    assert not s.exists(h)
    s.close()


def test_a_rebuilt_index_does_not_bring_deleted_blobs_back(tmp_path: Path) -> None:
    root = tmp_path / "b"
    s = FolderBlobStore(root)
    s.open()
    gone, kept = os.urandom(3000), os.urandom(2000)
    s.put_many([(sha(gone), gone), (sha(kept), kept)])
    s.delete(sha(gone))
    s.close()
    for p in root.glob("index.sqlite*"):  # the index is lost: rebuilt from the packs
        p.unlink()
    again = FolderBlobStore(root)
    again.open()
    assert not again.exists(sha(gone))
    assert again.get(sha(kept)) == kept
    again.close()
