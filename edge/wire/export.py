"""Evidence packages over the wire: the store streams files, the client writes them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath

from edge.errors import TransportError
from edge.wire.v1 import review_pb2

EXPORT_CHUNK_BYTES = 1 << 20


def package_to_chunks(
    files: Mapping[str, bytes], chunk_bytes: int = EXPORT_CHUNK_BYTES
) -> Iterator[review_pb2.ExportChunk]:
    """Stream package files (edge.evidence.package.package_files) as ordered chunks."""
    for path in sorted(files):
        data = files[path]
        offset = 0
        while True:
            piece = data[offset : offset + chunk_bytes]
            end = offset + len(piece)
            yield review_pb2.ExportChunk(path=path, offset=offset, data=piece, eof=end >= len(data))
            if end >= len(data):
                break
            offset = end


def _safe_rel(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if not path or rel.is_absolute() or ".." in rel.parts or "\\" in path:
        raise TransportError(f"export sent an unsafe file path {path!r}")
    return rel


def write_package_chunks(out_dir: Path, chunks: Iterable[review_pb2.ExportChunk]) -> list[str]:
    """Write a streamed package into ``out_dir`` (new or empty); return the paths.

    Refuses paths that escape the folder, chunks out of order and unfinished files, so a
    broken stream never leaves something that looks like a complete package.
    """
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise TransportError(f"{str(out_dir)!r} exists and is not an empty folder")
    sizes: dict[str, int] = {}
    done: set[str] = set()
    for c in chunks:
        rel = _safe_rel(c.path)
        if c.path in done or c.offset != sizes.get(c.path, 0):
            raise TransportError(
                f"export chunk for {c.path!r} at offset {c.offset} is out of order"
            )
        target = out_dir.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("ab" if c.offset else "wb") as f:
            f.write(c.data)
        sizes[c.path] = c.offset + len(c.data)
        if c.eof:
            done.add(c.path)
    unfinished = sorted(set(sizes) - done)
    if unfinished:
        raise TransportError(f"export stream ended before these files were complete: {unfinished}")
    return sorted(done)
