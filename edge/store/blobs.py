"""Evidence blobs (JPEGs), content addressed by sha256, in append-only pack files.

The blob folder holds::

    packs/00000001.pack   records: b"EWB1" | sha256 (32 bytes) | length (u64 LE) | bytes
    index.sqlite          sha256 -> (pack, offset, length); per pack: indexed_to, live
    ab/abcd...            the earlier one-file-per-blob layout: still read and deleted

Why packs: ingest writes ~3 blobs per event. One file per blob cost a create, write,
fsync, rename and folder fsync each (about 0.7 ms of disk and kernel time per event on
the development VM, the cap on ingest); a batch of blobs appended to one pack costs one
write and one ``fdatasync``.

Durability: ``put_many`` returns once the pack is fdatasync'ed (and, for a new pack,
the packs folder fsynced). The index is committed after that without an fsync of its
own: it only caches what the packs say. ``open`` scans every pack from the offset the
index has covered (``indexed_to``), so records whose index rows a power cut lost are
indexed again, and a torn tail of the newest pack (a batch whose fdatasync never
returned, so nothing of it was acknowledged) is cut off. The hash is checked on write,
on recovery and on every read: a blob is exactly the bytes its name says.

Deletion (retention) overwrites a record's bytes with zeros and marks it deleted, so
purged evidence does not stay readable on disk; a pack with no live record left is
removed. One process owns a blob folder at a time (an exclusive lock file).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import sqlite3
import struct
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from edge.errors import EvidenceError, NotFoundError, StoreError
from edge.fsutil import fsync_dir
from edge.store.sql import values_list

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LIVE, _DELETED = b"EWB1", b"EWB0"
_HEADER = struct.Struct("<4s32sQ")
#: a pack is closed for appends once it reaches this size (retention frees whole packs)
PACK_BYTES = 256 << 20
_IOV_MAX = 512
_INDEX_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS blobs (sha256 BLOB PRIMARY KEY, pack INTEGER NOT NULL,"
    " offset INTEGER NOT NULL, length INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS packs (id INTEGER PRIMARY KEY,"
    " indexed_to INTEGER NOT NULL, live INTEGER NOT NULL)",
)


class BlobStore(Protocol):
    def open(self) -> None: ...

    def close(self) -> None: ...

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

    def delete(self, sha256: str) -> None: ...


def _check_name(sha256: str) -> None:
    if not _SHA256.match(sha256):
        raise EvidenceError(f"blob id {sha256[:80]!r} is not 64 lowercase hex characters")


def _write_all(fd: int, parts: Sequence[bytes]) -> None:
    """Write ``parts`` in order at the file position (few system calls, no joining)."""
    for start in range(0, len(parts), _IOV_MAX):
        chunk = parts[start : start + _IOV_MAX]
        written = os.writev(fd, chunk)
        if written < sum(len(p) for p in chunk):  # short write (rare): finish plainly
            rest = memoryview(b"".join(chunk))[written:]
            while rest:
                rest = rest[os.write(fd, rest) :]


def _scan(fd: int, start: int, end: int) -> tuple[list[tuple[bytes, int, int]], int]:
    """Live records in [start, end) as (sha256, data offset, length), and where the
    valid records stop (``end`` unless a torn or damaged record was found)."""
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + _HEADER.size <= end:
        magic, sha, length = _HEADER.unpack(os.pread(fd, _HEADER.size, pos))
        data_at = pos + _HEADER.size
        if magic not in (_LIVE, _DELETED) or data_at + length > end:
            break
        if magic == _LIVE:
            if hashlib.sha256(os.pread(fd, length, data_at)).digest() != sha:
                break
            found.append((sha, data_at, length))
        pos = data_at + length
    return found, pos


class FolderBlobStore:
    """A folder of append-only packs plus a SQLite index (see the module docstring)."""

    def __init__(self, root: Path, pack_bytes: int = PACK_BYTES) -> None:
        self._root = root
        self._packs = root / "packs"
        self._pack_bytes = pack_bytes
        self._index: sqlite3.Connection | None = None
        self._index_lock = threading.Lock()  # the index connection
        self._write_lock = threading.Lock()  # appends to the current pack
        self._lock_fd: int | None = None
        self._pack_id = 0
        self._pack_fd: int | None = None
        self._pack_end = 0
        self._legacy = False

    @property
    def root(self) -> Path:
        return self._root

    def open(self) -> None:
        try:
            self._packs.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self._root / "LOCK", os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as e:
            raise StoreError(f"blob folder {str(self._root)!r} cannot be created: {e}") from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise StoreError(
                f"blob folder {str(self._root)!r} is in use by another process"
            ) from None
        index = sqlite3.connect(
            str(self._root / "index.sqlite"), isolation_level=None, check_same_thread=False
        )
        index.execute("PRAGMA journal_mode = WAL")
        index.execute("PRAGMA synchronous = NORMAL")  # the packs are the durable truth
        for stmt in _INDEX_SCHEMA:
            index.execute(stmt)
        self._index = index
        self._sweep_legacy_tmp()
        self._legacy = any(p.is_dir() and len(p.name) == 2 for p in self._root.iterdir())
        self._recover()

    def close(self) -> None:
        with self._write_lock, self._index_lock:
            if self._pack_fd is not None:
                os.close(self._pack_fd)
                self._pack_fd = None
            if self._index is not None:
                self._index.close()
                self._index = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _sweep_legacy_tmp(self) -> None:
        tmp = self._root / "tmp"
        stale = list(tmp.iterdir()) if tmp.is_dir() else []
        for p in stale:  # interrupted writes of the one-file layout: never acked
            p.unlink(missing_ok=True)
        if stale:
            log.warning("removed interrupted blob writes", extra={"count": len(stale)})

    def _pack_path(self, pack: int) -> Path:
        return self._packs / f"{pack:08d}.pack"

    def _db(self) -> sqlite3.Connection:
        if self._index is None:
            raise StoreError("the blob store is not open")
        return self._index

    def _recover(self) -> None:
        """Index what the packs hold beyond ``indexed_to``; cut a torn newest tail."""
        known = dict(self._db().execute("SELECT id, indexed_to FROM packs").fetchall())
        ids = sorted(int(p.stem) for p in self._packs.glob("*.pack") if p.stem.isdigit())
        for pack in ids:
            path = self._pack_path(pack)
            fd = os.open(path, os.O_RDWR)
            try:
                end = os.fstat(fd).st_size
                start = int(known.get(pack, 0))
                found, valid_to = _scan(fd, start, end) if start < end else ([], start)
                if valid_to < end:
                    newest = pack == ids[-1]
                    log.warning(
                        "blob pack has an incomplete tail" if newest else "blob pack damaged",
                        extra={"pack": path.name, "offset": valid_to, "bytes": end - valid_to},
                    )
                    if newest:  # a batch whose fdatasync never returned: never acked
                        os.ftruncate(fd, valid_to)
                        os.fsync(fd)
            finally:
                os.close(fd)
            if found or pack not in known:
                with self._index_lock:
                    self._index_rows(pack, found, valid_to)
                log.info("blob pack indexed", extra={"pack": path.name, "records": len(found)})
        self._pack_id = ids[-1] if ids else 0

    def _index_rows(self, pack: int, rows: Sequence[tuple[bytes, int, int]], to: int) -> None:
        """Index records of ``pack`` (caller holds the index lock); one transaction."""
        db = self._db()
        db.execute("BEGIN")
        try:
            before = db.total_changes
            for i in range(0, len(rows), 500):  # many rows per statement: see insert_rows
                part = rows[i : i + 500]
                db.execute(
                    "INSERT OR IGNORE INTO blobs (sha256, pack, offset, length) VALUES "
                    + values_list(4, len(part)),
                    [v for sha, off, n in part for v in (sha, pack, off, n)],
                )
            added = db.total_changes - before
            db.execute(
                "INSERT INTO packs (id, indexed_to, live) VALUES (?, ?, ?) ON CONFLICT (id)"
                " DO UPDATE SET indexed_to = excluded.indexed_to, live = live + excluded.live",
                (pack, to, added),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _legacy_path(self, sha256: str) -> Path:
        return self._root / sha256[:2] / sha256

    def put(self, sha256: str, data: bytes) -> None:
        self.put_many([(sha256, data)])

    def _missing(self, shas: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(shas))
        have: set[bytes] = set()
        with self._index_lock:
            db = self._db()
            for i in range(0, len(wanted), 500):
                part = [bytes.fromhex(s) for s in wanted[i : i + 500]]
                marks = ",".join("?" * len(part))
                q = f"SELECT sha256 FROM blobs WHERE sha256 IN ({marks})"
                have.update(r[0] for r in db.execute(q, part))
        missing = [s for s in wanted if bytes.fromhex(s) not in have]
        if self._legacy:
            missing = [s for s in missing if not self._legacy_path(s).is_file()]
        return missing

    def put_many(self, items: Sequence[tuple[str, bytes]], verified: bool = False) -> None:
        by_sha: dict[str, bytes] = {}
        for sha256, data in items:
            _check_name(sha256)
            if not verified:
                actual = hashlib.sha256(data).hexdigest()
                if actual != sha256:
                    raise EvidenceError(
                        f"blob content hashes to {actual[:16]}..., "
                        f"not the declared {sha256[:16]}..."
                    )
            by_sha[sha256] = data
        with self._write_lock:  # one writer: a blob is never appended twice
            todo = self._missing(by_sha)  # content addressed: same name, same bytes
            if todo:
                self._append([(sha, by_sha[sha]) for sha in todo])

    def _current_pack(self) -> int:
        """The pack to append to, opened (a new one when none or the last is full)."""
        if self._pack_fd is not None and self._pack_end < self._pack_bytes:
            return self._pack_fd
        if self._pack_fd is not None:
            os.close(self._pack_fd)
            self._pack_fd = None
        path = self._pack_path(self._pack_id) if self._pack_id else None
        if path is None or path.stat().st_size >= self._pack_bytes:
            self._pack_id += 1
            path = self._pack_path(self._pack_id)
        self._pack_fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o640)
        self._pack_end = os.lseek(self._pack_fd, 0, os.SEEK_END)
        return self._pack_fd

    def _append(self, blobs: Sequence[tuple[str, bytes]]) -> None:
        """Append records, make them durable, then index them (caller holds write lock)."""
        fd = self._current_pack()
        new_file = self._pack_end == 0
        parts: list[bytes] = []
        rows: list[tuple[bytes, int, int]] = []
        pos = self._pack_end
        for sha, data in blobs:
            raw = bytes.fromhex(sha)
            parts += (_HEADER.pack(_LIVE, raw, len(data)), data)
            rows.append((raw, pos + _HEADER.size, len(data)))
            pos += _HEADER.size + len(data)
        try:
            _write_all(fd, parts)
            os.fdatasync(fd)
            if new_file:  # the pack's folder entry must survive a power cut too
                fsync_dir(self._packs)
        except OSError as e:
            os.ftruncate(fd, self._pack_end)  # nothing of this batch is acknowledged
            os.lseek(fd, self._pack_end, os.SEEK_SET)
            raise StoreError(f"cannot write blob pack: {e.strerror}") from None
        self._pack_end = pos
        with self._index_lock:
            self._index_rows(self._pack_id, rows, pos)

    def _locate(self, sha256: str) -> tuple[int, int, int] | None:
        with self._index_lock:
            row = (
                self._db()
                .execute(
                    "SELECT pack, offset, length FROM blobs WHERE sha256 = ?",
                    (bytes.fromhex(sha256),),
                )
                .fetchone()
            )
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]))

    def get(self, sha256: str) -> bytes:
        _check_name(sha256)
        where = self._locate(sha256)
        try:
            if where is None:
                data = self._legacy_path(sha256).read_bytes()
            else:
                pack, offset, length = where
                fd = os.open(self._pack_path(pack), os.O_RDONLY)
                try:
                    data = os.pread(fd, length, offset)
                finally:
                    os.close(fd)
        except FileNotFoundError:
            raise NotFoundError(f"blob {sha256[:16]}... is not in the blob store") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise EvidenceError(f"blob {sha256[:16]}... is damaged on disk (hash mismatch)")
        return data

    def exists(self, sha256: str) -> bool:
        _check_name(sha256)
        return self._locate(sha256) is not None or self._legacy_path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        """Erase a blob (zeros over its bytes, first: a crash never brings it back) and
        forget it; a pack with no live record left is removed."""
        _check_name(sha256)
        self._legacy_path(sha256).unlink(missing_ok=True)
        raw = bytes.fromhex(sha256)
        with self._write_lock, self._index_lock:
            db = self._db()
            row = db.execute(
                "SELECT pack, offset, length FROM blobs WHERE sha256 = ?", (raw,)
            ).fetchone()
            if row is None:
                return
            pack = int(row[0])
            self._erase(pack, int(row[1]), int(row[2]))
            db.execute("BEGIN")
            db.execute("DELETE FROM blobs WHERE sha256 = ?", (raw,))
            db.execute("UPDATE packs SET live = live - 1 WHERE id = ?", (pack,))
            live = db.execute("SELECT live FROM packs WHERE id = ?", (pack,)).fetchone()
            empty = live is not None and int(live[0]) <= 0 and pack != self._pack_id
            if empty:
                db.execute("DELETE FROM packs WHERE id = ?", (pack,))
            db.execute("COMMIT")
            if empty:
                self._pack_path(pack).unlink(missing_ok=True)

    def _erase(self, pack: int, offset: int, length: int) -> None:
        fd = os.open(self._pack_path(pack), os.O_WRONLY)
        try:
            os.pwrite(fd, _DELETED, offset - _HEADER.size)
            zeros = bytes(min(length, 1 << 20))
            for at in range(offset, offset + length, len(zeros) or 1):
                os.pwrite(fd, zeros[: offset + length - at], at)
        finally:
            os.close(fd)
