"""Evidence blobs (JPEGs), stored by the sha256 of their content.

The folder store writes each blob to a temporary file, fsyncs it, renames it into
place and fsyncs the folder, so a blob that ``put`` returned for survives a crash, and
a crash mid-write leaves only a temporary file (swept at open). The hash is checked on
write and on read: a blob is exactly the bytes its name says.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from edge.errors import EvidenceError, NotFoundError, StoreError

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    def open(self) -> None: ...

    def close(self) -> None: ...

    def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` durably; EvidenceError if its sha256 is not ``sha256``."""
        ...

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """``put`` for several blobs, durable together when it returns."""
        ...

    def get(self, sha256: str) -> bytes:
        """The verified bytes; NotFoundError / EvidenceError when missing / damaged."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...


def _check_name(sha256: str) -> None:
    if not _SHA256.match(sha256):
        raise EvidenceError(f"blob id {sha256[:80]!r} is not 64 lowercase hex characters")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FolderBlobStore:
    """``root/ab/abcd...``: 256 fan-out folders, created once at open.

    Batched writes (``put_many``) write every file first, then fsync them in parallel
    (the file system merges concurrent flushes into few journal commits), rename them
    into place and fsync each touched folder once.
    """

    def __init__(self, root: Path, io_threads: int = 8) -> None:
        self._root = root
        self._tmp = root / "tmp"
        self._io_threads = io_threads
        self._pool: ThreadPoolExecutor | None = None

    @property
    def root(self) -> Path:
        return self._root

    def open(self) -> None:
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"blob folder {str(self._root)!r} cannot be created: {e}") from None
        created = False
        for i in range(256):
            d = self._root / f"{i:02x}"
            if not d.is_dir():
                d.mkdir()
                created = True
        if created:
            _fsync_dir(self._root)
        self._pool = ThreadPoolExecutor(self._io_threads, thread_name_prefix="blob-io")
        stale = list(self._tmp.iterdir())
        for p in stale:  # leftovers of writes interrupted by a crash: never acked
            p.unlink(missing_ok=True)
        if stale:
            log.warning("removed interrupted blob writes", extra={"count": len(stale)})

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def path_of(self, sha256: str) -> Path:
        _check_name(sha256)
        return self._root / sha256[:2] / sha256

    def put(self, sha256: str, data: bytes) -> None:
        self.put_many([(sha256, data)])

    def _write_tmp(self, sha256: str, data: bytes) -> Path:
        tmp = self._tmp / f"{sha256}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        return tmp

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        todo: dict[str, bytes] = {}
        for sha256, data in items:
            target = self.path_of(sha256)
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha256:
                raise EvidenceError(
                    f"blob content hashes to {actual[:16]}..., not the declared {sha256[:16]}..."
                )
            if not target.exists():  # content addressed: same name, same bytes
                todo[sha256] = data
        if not todo:
            return
        tmps = {sha: self._write_tmp(sha, data) for sha, data in todo.items()}
        self._each(_fsync_file, list(tmps.values()))
        for sha, tmp in tmps.items():
            tmp.replace(self.path_of(sha))
        self._each(_fsync_dir, sorted({self.path_of(sha).parent for sha in tmps}))

    def _each(self, fn: Callable[[Path], None], paths: Sequence[Path]) -> None:
        if self._pool is None or len(paths) == 1:
            for p in paths:
                fn(p)
            return
        for _ in self._pool.map(fn, paths):
            pass

    def get(self, sha256: str) -> bytes:
        path = self.path_of(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"blob {sha256[:16]}... is not in the blob store") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise EvidenceError(f"blob {sha256[:16]}... is damaged on disk (hash mismatch)")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def delete(self, sha256: str) -> None:
        path = self.path_of(sha256)
        path.unlink(missing_ok=True)
