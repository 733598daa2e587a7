"""Move the blob folder of an older store into the database (`store migrate-blobs`).

Older stores kept evidence in a folder: append-only pack files
(``packs/NNNNNNNN.pack``, records ``b"EWB1" | sha256 (32 bytes) | length (u64 LE) |
bytes``; ``b"EWB0"`` marks a record retention erased) and, before that, one file per
blob (``ab/abcd...``). The packs are the truth (their ``index.sqlite`` was only a
cache), so they are read directly, record by record. Every blob is checked against its
name before it is copied, copied only if the database lacks it (so a second run copies
nothing), and read back from the database, hash checked, afterwards. The folder is only
read: delete it yourself once the report says everything is there.
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from edge.errors import ConfigError
from edge.store.blobs import BlobStore

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<4s32sQ")
_LIVE, _DELETED = b"EWB1", b"EWB0"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: blobs copied per transaction (bounded by count and bytes)
BATCH_BLOBS = 256
BATCH_BYTES = 32 << 20


@dataclass(frozen=True, slots=True)
class Damaged:
    """A record or file whose bytes are not what its name says (or is cut short)."""

    where: str
    why: str


@dataclass(frozen=True, slots=True)
class MigrationReport:
    found: int  # distinct blobs in the folder
    copied: int  # newly stored in the database by this run
    present: int  # already in the database (an earlier run, or delivered again)
    verified: int  # read back from the database with a matching sha256
    damaged: tuple[Damaged, ...]

    @property
    def ok(self) -> bool:
        return not self.damaged and self.verified == self.found


def _records(pack: Path) -> Iterator[tuple[str, bytes] | Damaged]:
    with pack.open("rb") as f:
        pos = 0
        while head := f.read(_HEADER.size):
            if len(head) < _HEADER.size:
                yield Damaged(f"{pack.name}@{pos}", "cut short inside a record header")
                return
            magic, raw, length = _HEADER.unpack(head)
            if magic not in (_LIVE, _DELETED):
                yield Damaged(f"{pack.name}@{pos}", f"not a record (magic {magic!r})")
                return
            yield from _record(f, pack, pos, magic, raw, length)
            pos += _HEADER.size + length


def _record(
    f: BinaryIO, pack: Path, pos: int, magic: bytes, raw: bytes, length: int
) -> Iterator[tuple[str, bytes] | Damaged]:
    if magic == _DELETED:  # erased by retention: zeros, nothing to move
        f.seek(length, 1)
        return
    data = f.read(length)
    if len(data) < length:
        yield Damaged(f"{pack.name}@{pos}", f"cut short: {len(data)} of {length} bytes")
    elif hashlib.sha256(data).digest() != raw:
        yield Damaged(f"{pack.name}@{pos}", f"bytes do not hash to {raw.hex()[:16]}...")
    else:
        yield raw.hex(), data


def _loose_files(root: Path) -> Iterator[tuple[str, bytes] | Damaged]:
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and len(p.name) == 2):
        for path in sorted(sub.iterdir()):
            if not _SHA256.match(path.name):
                continue
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != path.name:
                yield Damaged(f"{sub.name}/{path.name[:16]}...", "bytes do not hash to the name")
            else:
                yield path.name, data


def folder_blobs(root: Path) -> Iterator[tuple[str, bytes] | Damaged]:
    """Every blob of an old blob folder, checked against its name, in folder order."""
    if not root.is_dir():
        raise ConfigError(f"blob folder {str(root)!r} does not exist or is not a folder")
    packs = sorted(p for p in (root / "packs").glob("*.pack") if p.stem.isdigit())
    for pack in packs:
        yield from _records(pack)
    yield from _loose_files(root)


class _Copier:
    """Batches of checked blobs: copy what the database lacks, then read all back."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self._batch: dict[str, bytes] = {}
        self._size = 0
        self.seen: set[str] = set()
        self.copied = 0
        self.verified = 0
        self.bad: list[Damaged] = []

    def add(self, sha: str, data: bytes) -> None:
        if sha in self.seen:
            return
        self.seen.add(sha)
        self._batch[sha] = data
        self._size += len(data)
        if len(self._batch) >= BATCH_BLOBS or self._size >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        todo = self._blobs.missing(list(self._batch))
        # verified: folder_blobs hashed each one against its name
        self._blobs.put_many([(s, self._batch[s]) for s in todo], verified=True)
        self.copied += len(todo)
        for sha, data in self._batch.items():
            if self._blobs.get(sha) == data:  # get() checks the sha256 again
                self.verified += 1
            else:
                self.bad.append(Damaged(sha[:16] + "...", "differs in the database"))
        self._batch, self._size = {}, 0


def migrate_blobs(root: Path, blobs: BlobStore) -> MigrationReport:
    """Copy every blob of ``root`` that ``blobs`` lacks; idempotent."""
    copier = _Copier(blobs)
    damaged: list[Damaged] = []
    for item in folder_blobs(root):
        if isinstance(item, Damaged):
            log.warning("damaged blob in old folder", extra={"where": item.where, "why": item.why})
            damaged.append(item)
        else:
            copier.add(*item)
    copier.flush()
    found = len(copier.seen)
    report = MigrationReport(
        found, copier.copied, found - copier.copied, copier.verified, (*damaged, *copier.bad)
    )
    log.info(
        "blob folder migrated",
        extra={"found": found, "copied": report.copied, "damaged": len(report.damaged)},
    )
    return report
