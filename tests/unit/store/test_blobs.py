"""Folder blob store on a real temporary folder (pure file I/O, no services)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edge.errors import EvidenceError, NotFoundError
from edge.store.blobs import FolderBlobStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> FolderBlobStore:
    s = FolderBlobStore(tmp_path / "blobs")
    s.open()
    return s


def test_put_get_is_content_addressed_with_fan_out(store: FolderBlobStore) -> None:
    data = b"\xff\xd8jpeg" * 100
    h = sha(data)
    store.put(h, data)
    store.put(h, data)  # idempotent
    assert store.get(h) == data and store.exists(h)
    assert store.path_of(h) == store.root / h[:2] / h
    assert list((store.root / "tmp").iterdir()) == []


def test_wrong_hash_is_refused_and_nothing_written(store: FolderBlobStore) -> None:
    with pytest.raises(EvidenceError, match="not the declared"):
        store.put(sha(b"a"), b"b")
    assert not store.exists(sha(b"a"))


def test_damage_on_disk_is_detected(store: FolderBlobStore) -> None:
    h = sha(b"evidence")
    store.put(h, b"evidence")
    store.path_of(h).write_bytes(b"tampered")
    with pytest.raises(EvidenceError, match="damaged"):
        store.get(h)


def test_missing_and_bad_names(store: FolderBlobStore) -> None:
    with pytest.raises(NotFoundError):
        store.get("0" * 64)
    with pytest.raises(EvidenceError, match="64 lowercase hex"):
        store.get("../../etc/passwd")


def test_open_sweeps_interrupted_writes(tmp_path: Path) -> None:
    (tmp_path / "b" / "tmp").mkdir(parents=True)
    (tmp_path / "b" / "tmp" / "half-written").write_bytes(b"x")
    FolderBlobStore(tmp_path / "b").open()
    assert list((tmp_path / "b" / "tmp").iterdir()) == []


def test_delete(store: FolderBlobStore) -> None:
    h = sha(b"x")
    store.put(h, b"x")
    store.delete(h)
    store.delete(h)
    assert not store.exists(h)
