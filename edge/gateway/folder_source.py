"""``folder:PATH``: an image drop folder that cameras fill by FTP.

The folder is processed in name order, then polled for new files. A file is taken
only once it is complete: its size and mtime must be unchanged across
``folder_stable_polls`` polls and its name must not look like an upload in progress.
What has been done is kept in a small SQLite journal in the gateway's data_dir, and a
file is marked done only when the pipeline ``ack``s its frame, so after a restart
nothing is reported twice and nothing is skipped. Files are known by (name, size,
mtime) and by content hash, so a folder that vanishes (unmounted share) and comes
back, or a re-uploaded copy of the same picture, is not reported again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from edge.config import ImageLimits
from edge.errors import InputError, SourceError
from edge.gateway.sources import CaptureClock, Frame, SourceSettings, SourceStats
from edge.imageio import IMAGE_EXTENSIONS, decode_image
from edge.vision.types import Image

log = logging.getLogger(__name__)

TEMP_SUFFIXES = (".part", ".tmp", ".temp", ".filepart", ".partial", ".uploading", "~")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS done (
    name     TEXT    NOT NULL,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256   TEXT    NOT NULL,
    outcome  TEXT    NOT NULL,
    done_at_us INTEGER NOT NULL,
    PRIMARY KEY (name, size, mtime_ns)
);
CREATE INDEX IF NOT EXISTS done_sha256 ON done (sha256);
"""


@dataclass(frozen=True, slots=True)
class _Key:
    name: str
    size: int
    mtime_ns: int
    sha256: str = ""


def is_candidate(name: str) -> bool:
    """An image file name that is not an upload in progress or a hidden file."""
    lowered = name.lower()
    if name.startswith((".", "~")) or lowered.endswith(TEMP_SUFFIXES):
        return False
    return Path(lowered).suffix in IMAGE_EXTENSIONS


class FolderJournal:
    """Which files of one camera's folder are done (processed, corrupt or duplicate)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise SourceError(f"folder journal {self._path} cannot be opened: {e}") from e
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SourceError(f"folder journal {self._path} is not open")
        return self._conn

    def is_done(self, key: _Key) -> bool:
        row = (
            self._db()
            .execute(
                "SELECT 1 FROM done WHERE name = ? AND size = ? AND mtime_ns = ?",
                (key.name, key.size, key.mtime_ns),
            )
            .fetchone()
        )
        return row is not None

    def has_content(self, sha256: str) -> bool:
        sql = "SELECT 1 FROM done WHERE sha256 = ? AND outcome = 'processed' LIMIT 1"
        return self._db().execute(sql, (sha256,)).fetchone() is not None

    def mark(self, key: _Key, outcome: str) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO done (name, size, mtime_ns, sha256, outcome, done_at_us) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key.name, key.size, key.mtime_ns, key.sha256, outcome, time.time_ns() // 1000),
        )


class FolderSource:
    def __init__(
        self,
        camera_id: str,
        folder: Path,
        settings: SourceSettings,
        limits: ImageLimits,
        data_dir: Path,
    ) -> None:
        self._camera_id = camera_id
        self._folder = folder
        self._settings = settings
        self._limits = limits
        self._journal = FolderJournal(data_dir / "sources" / f"{camera_id}.folder.sqlite")
        self._clock = CaptureClock(camera_id)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watch: dict[str, tuple[int, int, int]] = {}  # name -> size, mtime, stable polls
        self._ready: list[_Key] = []
        self._inflight: dict[int, _Key] = {}  # frame index -> file
        self._inflight_names: set[str] = set()
        self._next_poll = 0.0
        self._present = True
        self._index = 0
        self._frames = self._corrupt = self._duplicates = self._vanished_polls = 0
        self._last_frame_at: int | None = None
        self._drain = False
        self._idle_polls = 0

    @property
    def camera_id(self) -> str:
        return self._camera_id

    @property
    def live(self) -> bool:
        return False

    @property
    def finished(self) -> bool:
        # A drop folder can always receive more, unless asked to drain (--once): then it
        # is finished once a full poll found nothing new, unstable, ready or in flight.
        with self._lock:
            return (
                self._drain
                and self._idle_polls >= 1
                and not self._ready
                and not self._watch
                and not self._inflight
            )

    def drain(self) -> None:
        """Process what the folder holds now (and what is still arriving), then finish."""
        self._drain = True

    def start(self) -> None:
        self._stop.clear()
        self._journal.open()
        if not self._folder.is_dir():
            log.error(
                "drop folder missing; waiting for it to appear",
                extra={"camera_id": self._camera_id, "folder": str(self._folder)},
            )
            self._present = False

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._journal.close()

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        deadline = time.monotonic() + timeout_s
        while not self._stop.is_set():
            with self._lock:
                frame = self._next_ready()
            if frame is not None:
                return frame
            now = time.monotonic()
            if now >= self._next_poll:
                self._poll()
                self._next_poll = now + self._settings.folder_poll_s
                continue
            wait = min(self._next_poll, deadline) - now
            if wait <= 0 or self._stop.wait(wait):
                return None
        return None

    def ack(self, frame: Frame) -> None:
        with self._lock:
            key = self._inflight.pop(frame.index, None)
            if key is None or self._stop.is_set():
                return
            self._inflight_names.discard(key.name)
            self._journal.mark(key, "processed")

    # -- polling -----------------------------------------------------------------

    def _poll(self) -> None:
        try:
            entries = list(os.scandir(self._folder))
        except OSError as e:
            self._folder_gone(e)
            return
        if not self._present:
            log.warning("drop folder is back", extra={"camera_id": self._camera_id})
            self._present = True
        seen: dict[str, tuple[int, int, int]] = {}
        with self._lock:
            ready_names = {k.name for k in self._ready}
            for entry in entries:
                key = self._stat(entry)
                if key is None or key.name in self._inflight_names:
                    continue
                if key.name in ready_names or self._journal.is_done(key):
                    continue
                size, mtime, stable = self._watch.get(key.name, (-1, -1, 0))
                stable = stable + 1 if (size, mtime) == (key.size, key.mtime_ns) else 1
                if stable >= self._settings.folder_stable_polls and key.size > 0:
                    self._ready.append(key)
                else:
                    seen[key.name] = (key.size, key.mtime_ns, stable)
            self._watch = seen  # files that vanished stop being watched
            self._ready.sort(key=lambda k: k.name)
            self._idle_polls = 0 if (self._ready or seen) else self._idle_polls + 1

    def _stat(self, entry: os.DirEntry[str]) -> _Key | None:
        if not is_candidate(entry.name):
            return None
        try:
            if not entry.is_file():
                return None
            st = entry.stat()
        except OSError:
            return None
        return _Key(entry.name, st.st_size, st.st_mtime_ns)

    def _folder_gone(self, e: OSError) -> None:
        self._vanished_polls += 1
        if self._present:
            log.error(
                "drop folder unreadable; polling until it returns",
                extra={"camera_id": self._camera_id, "error": e.strerror or str(e)},
            )
        self._present = False
        with self._lock:
            self._watch.clear()  # stability must be re-established on return

    def _next_ready(self) -> Frame | None:
        while self._ready:
            key = self._ready.pop(0)
            path = self._folder / key.name
            try:
                data = path.read_bytes()
            except OSError:
                continue  # vanished or unreadable since the poll: seen again next poll
            if len(data) != key.size:
                continue  # changed since the poll: not stable after all
            key = replace(key, sha256=hashlib.sha256(data).hexdigest())
            if self._journal.has_content(key.sha256):
                self._duplicates += 1
                self._journal.mark(key, "duplicate")
                continue
            try:
                loaded = decode_image(data, f"folder:{path}", self._limits)
            except InputError as e:
                self._corrupt += 1
                self._journal.mark(key, "corrupt")
                log.warning("image skipped", extra={"camera_id": self._camera_id, "error": str(e)})
                continue
            return self._frame(key, loaded.image)
        return None

    def _frame(self, key: _Key, image: Image) -> Frame:
        captured = self._clock.stamp(key.mtime_ns // 1000)
        ref = f"folder:{self._folder / key.name}"
        resume = f"folder:{self._camera_id}:{key.name}:{key.sha256}"
        frame = Frame(self._camera_id, self._index, captured, image, ref, resume, 0)
        self._inflight[self._index] = key
        self._inflight_names.add(key.name)
        self._index += 1
        self._frames += 1
        self._last_frame_at = captured
        return frame

    def stats(self) -> SourceStats:
        with self._lock:
            return SourceStats(
                camera_id=self._camera_id,
                kind="folder",
                connected=self._present,
                frames=self._frames,
                corrupt=self._corrupt,
                overruns=0,
                reconnects=0,
                stalls=0,
                open_failures=self._vanished_polls,
                clock_corrections=self._clock.corrections,
                last_frame_at_us=self._last_frame_at,
                finished=False,
                duplicates=self._duplicates,
            )
