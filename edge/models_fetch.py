"""Model pack tooling: verify a pack folder, fetch missing files from their pinned URLs.

Nothing here runs on its own: the gateway and the CLI never download at run time;
only an explicit ``edgewatch models fetch`` reaches the network.

Download protocol, per file: bytes go to ``<file>.part``; an existing ``.part`` is
resumed with an HTTP ``Range`` request; the finished ``.part`` must have the
manifest's size and sha256, then it is renamed over the final name atomically. A
``.part`` that fails the hash is **removed** (resuming from bytes that are known to be
wrong would fail again forever); a ``.part`` left by an interrupted transfer is kept
for the next resume.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from edge.config import RuntimeConfig
from edge.errors import ModelPackError
from edge.fsutil import fsync_dir
from edge.modelpack import ModelEntry, PackManifest, load_verified, sha256_file

log = logging.getLogger(__name__)

Status = Literal["ok", "missing", "bad_size", "bad_hash", "bad_graph"]
Action = Literal["present", "downloaded", "resumed"]
_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True, slots=True)
class FileCheck:
    """Verification result of one model file."""

    entry: ModelEntry
    path: Path
    status: Status
    actual_size: int | None = None
    actual_sha256: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    entry: ModelEntry
    path: Path
    action: Action
    url: str | None
    downloaded_bytes: int


def check_file(pack_dir: Path, entry: ModelEntry) -> FileCheck:
    """Size and sha256 of one file against its manifest entry (no graph loading)."""
    path = pack_dir / entry.file
    if not path.is_file():
        return FileCheck(entry, path, "missing", detail="file not found")
    size = path.stat().st_size
    if size != entry.size:
        return FileCheck(
            entry, path, "bad_size", size, detail=f"{size} bytes, manifest expects {entry.size}"
        )
    digest = sha256_file(path)
    if digest != entry.sha256:
        return FileCheck(
            entry,
            path,
            "bad_hash",
            size,
            digest,
            detail=f"sha256 {digest}, manifest expects {entry.sha256}",
        )
    return FileCheck(entry, path, "ok", size, digest)


def check_graph(pack_dir: Path, entry: ModelEntry, runtime: RuntimeConfig) -> FileCheck:
    """Full check: bytes, then the graph's input/output names and shapes."""
    basic = check_file(pack_dir, entry)
    if not basic.ok:
        return basic
    from edge.vision.runtime import create_session  # onnxruntime only when asked

    try:
        create_session(load_verified(pack_dir, entry), runtime)
    except ModelPackError as e:
        return FileCheck(
            entry, basic.path, "bad_graph", basic.actual_size, basic.actual_sha256, detail=str(e)
        )
    return basic


def verify_pack(
    pack_dir: Path, manifest: PackManifest, runtime: RuntimeConfig, *, graphs: bool = True
) -> list[FileCheck]:
    if graphs:
        return [check_graph(pack_dir, e, runtime) for e in manifest.models]
    return [check_file(pack_dir, e) for e in manifest.models]


def select_entries(manifest: PackManifest, only: list[str] | None) -> list[ModelEntry]:
    if not only:
        return list(manifest.models)
    return [manifest.by_id(model_id) for model_id in only]


def source_url(entry: ModelEntry, base_url: str | None) -> str:
    """A mirror (``base_url``) serves the pack's layout and beats the pinned URL."""
    if base_url:
        url = base_url.rstrip("/") + "/" + entry.file
    elif entry.url:
        url = entry.url
    else:
        raise ModelPackError(
            f"{entry.file} ({entry.id}) has no download URL in the manifest; "
            "pass --base-url URL of a mirror that serves the pack's files"
        )
    if not url.startswith(("http://", "https://")):
        raise ModelPackError(f"{entry.file}: URL {url!r} must start with http:// or https://")
    return url


def fetch_model(
    entry: ModelEntry, to_dir: Path, base_url: str | None = None, *, timeout: float = 60.0
) -> FetchOutcome:
    """Make ``to_dir/entry.file`` present and verified, downloading only if needed."""
    final = to_dir / entry.file
    if check_file(to_dir, entry).ok:
        return FetchOutcome(entry, final, "present", None, 0)
    url = source_url(entry, base_url)
    part = final.with_name(final.name + ".part")
    final.parent.mkdir(parents=True, exist_ok=True)
    start = _usable_part_size(part, entry)
    received = 0
    if start < entry.size:
        log.info("model download", extra={"model": entry.id, "offset": start})
        received = _download(url, part, start, entry, timeout)
    _finish(part, final, entry, url)
    return FetchOutcome(entry, final, "resumed" if start else "downloaded", url, received)


def _usable_part_size(part: Path, entry: ModelEntry) -> int:
    if not part.is_file():
        return 0
    size = part.stat().st_size
    if size > entry.size:
        part.unlink()
        return 0
    return size


def _download(url: str, part: Path, start: int, entry: ModelEntry, timeout: float) -> int:
    headers = {"User-Agent": "edgewatch-models-fetch"}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)  # scheme checked in source_url
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            offset = _resume_offset(resp.status, resp.headers.get("Content-Range"), start)
            with part.open("r+b" if offset else "wb") as out:
                out.truncate(offset)
                out.seek(offset)
                received = _copy(resp, out, entry.size - offset, entry, url)
                out.flush()
                os.fsync(out.fileno())
            return received
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:
            part.unlink(missing_ok=True)  # server says our .part is no prefix of the file
            return _download(url, part, 0, entry, timeout)
        raise ModelPackError(
            f"{entry.file}: download from {url} failed: HTTP {e.code} {e.reason}"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        reason = getattr(e, "reason", None) or repr(e)
        raise ModelPackError(
            f"{entry.file}: download from {url} failed: {reason}; "
            "run the same command again to resume"
        ) from None


def _resume_offset(status: int, content_range: str | None, start: int) -> int:
    if status == 206 and start:
        m = _CONTENT_RANGE.fullmatch((content_range or "").strip())
        if m and int(m.group(1)) == start:
            return start
    # 200 (range ignored) or an unexpected range: start over from byte 0
    return 0


def _copy(resp: BinaryIO, out: BinaryIO, remaining: int, entry: ModelEntry, url: str) -> int:
    received = 0
    while block := resp.read(_CHUNK):
        received += len(block)
        if received > remaining:
            raise ModelPackError(
                f"{entry.file}: {url} sends more than the manifest's {entry.size} bytes; "
                "wrong file or wrong mirror"
            )
        out.write(block)
    return received


def _finish(part: Path, final: Path, entry: ModelEntry, url: str) -> None:
    size = part.stat().st_size
    if size != entry.size:
        raise ModelPackError(
            f"{entry.file}: download from {url} stopped at {size} of {entry.size} bytes; "
            "run the same command again to resume"
        )
    digest = sha256_file(part)
    if digest != entry.sha256:
        part.unlink()
        raise ModelPackError(
            f"{entry.file}: download from {url} has sha256 {digest}, manifest expects "
            f"{entry.sha256}; the download was discarded (check the URL or mirror)"
        )
    part.replace(final)
    fsync_dir(final.parent)
