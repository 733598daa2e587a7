"""The gateway's local watchlist: one SQLite file (WAL), so matching survives offline restarts.

Every change bumps a version counter in the same transaction, so a snapshot always
names the exact state it shows. All face templates in a file come from one embedder
model: a template of another model is refused, naming both ids.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import numpy as np

from edge.errors import ModelMismatchError, WatchlistError
from edge.ids import uuid7
from edge.vision.types import FaceEmbedding
from edge.watchlist.gallery import normalise_rows
from edge.watchlist.types import Subject, WatchlistSnapshot, empty_matrix

log = logging.getLogger(__name__)

MAX_LABEL = 200
MAX_PLATE = 16
MAX_SUBJECT_ID = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (
    subject_id TEXT PRIMARY KEY,
    label TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS face_templates (
    template_id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id TEXT NOT NULL REFERENCES subjects(subject_id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS face_templates_subject ON face_templates(subject_id);
CREATE TABLE IF NOT EXISTS plates (
    subject_id TEXT NOT NULL REFERENCES subjects(subject_id) ON DELETE CASCADE,
    plate TEXT NOT NULL,
    PRIMARY KEY (subject_id, plate)
);
INSERT OR IGNORE INTO meta(key, value) VALUES ('version', '0');
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', '1');
"""


class _NoChangeError(Exception):
    """Raised inside a write transaction to roll it back without a new version."""


class WatchlistFile:
    """Local watchlist in a SQLite file. ``open()`` before use, ``close()`` after."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    def open(self) -> None:
        """Create the file and schema if missing; refuse a file that is not a watchlist."""
        if self._conn is not None:
            return
        if self._path.exists() and not self._path.is_file():
            raise WatchlistError(f"watchlist path {str(self._path)!r} exists and is not a file")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise WatchlistError(
                f"watchlist file {str(self._path)!r} cannot be opened as SQLite: {e}"
            ) from None
        self._conn = conn
        log.info("watchlist opened", extra={"version": self.version()})

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> WatchlistFile:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that also bumps the version counter."""
        conn = self._require()
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'"
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """A read under the lock, so it never sees another thread's open transaction."""
        conn = self._require()
        with self._lock:
            return conn.execute(sql, args).fetchall()

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise WatchlistError(f"watchlist file {str(self._path)!r} is not open; call open()")
        return self._conn

    def version(self) -> int:
        rows = self._query("SELECT value FROM meta WHERE key = 'version'")
        return int(str(rows[0][0]))

    def face_model_id(self) -> str | None:
        rows = self._query("SELECT model_id FROM face_templates LIMIT 1")
        return str(rows[0][0]) if rows else None

    def add_subject(self, label: str, subject_id: str | None = None) -> str:
        """Add a subject and return its id (a new UUIDv7 unless given, e.g. by sync)."""
        if not label.strip() or len(label) > MAX_LABEL:
            raise WatchlistError(f"subject label must be 1..{MAX_LABEL} characters, not blank")
        sid = subject_id or uuid7()
        if len(sid) > MAX_SUBJECT_ID or not sid.isprintable() or sid != sid.strip():
            raise WatchlistError(f"subject id {sid!r} must be 1..{MAX_SUBJECT_ID} printable chars")
        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO subjects(subject_id, label) VALUES (?, ?)", (sid, label))
        except sqlite3.IntegrityError:
            raise WatchlistError(f"subject {sid!r} already exists") from None
        return sid

    def _check_subject(self, conn: sqlite3.Connection, subject_id: str) -> None:
        if conn.execute("SELECT 1 FROM subjects WHERE subject_id = ?", (subject_id,)).fetchone():
            return
        raise WatchlistError(f"unknown subject {subject_id!r}")

    def add_face_template(self, subject_id: str, embedding: FaceEmbedding) -> None:
        """Store one L2-normalised template; all templates must share one model and size."""
        vec = normalise_rows(np.asarray(embedding.vector, dtype=np.float32).reshape(1, -1))[0]
        with self._tx() as conn:
            self._check_subject(conn, subject_id)
            row = conn.execute("SELECT model_id, dim FROM face_templates LIMIT 1").fetchone()
            if row is not None and row[0] != embedding.model_id:
                raise ModelMismatchError(
                    f"face template from model {embedding.model_id!r} refused: this watchlist "
                    f"holds templates of model {row[0]!r}; re-enroll all faces with one model"
                )
            if row is not None and int(row[1]) != vec.shape[0]:
                raise ModelMismatchError(
                    f"face template has {vec.shape[0]} dimensions, model {row[0]!r} templates "
                    f"here have {row[1]}"
                )
            conn.execute(
                "INSERT INTO face_templates(subject_id, model_id, dim, vector) VALUES (?, ?, ?, ?)",
                (subject_id, embedding.model_id, int(vec.shape[0]), vec.astype("<f4").tobytes()),
            )

    def add_plate(self, subject_id: str, normalised_text: str) -> None:
        """Watch a plate for a subject; the text must already be normalised."""
        text = normalised_text
        if not text or text != text.strip() or len(text) > MAX_PLATE or not text.isprintable():
            raise WatchlistError(
                f"plate text must be 1..{MAX_PLATE} printable characters without spaces "
                f"(normalise it first), got {len(text)} characters"
            )
        try:
            with self._tx() as conn:
                self._check_subject(conn, subject_id)
                cur = conn.execute(
                    "INSERT OR IGNORE INTO plates(subject_id, plate) VALUES (?, ?)",
                    (subject_id, text),
                )
                if cur.rowcount == 0:
                    raise _NoChangeError  # already watched: no new version
        except _NoChangeError:
            pass

    def remove(self, subject_id: str) -> bool:
        """Remove a subject with its templates and plates; False when it did not exist."""
        try:
            with self._tx() as conn:
                cur = conn.execute("DELETE FROM subjects WHERE subject_id = ?", (subject_id,))
                if cur.rowcount == 0:
                    raise _NoChangeError
        except _NoChangeError:
            return False
        return True

    def subjects(self) -> list[Subject]:
        rows = self._query("SELECT subject_id, label FROM subjects ORDER BY subject_id")
        return [Subject(str(sid), str(label)) for sid, label in rows]

    def snapshot(self) -> WatchlistSnapshot:
        """A consistent copy of everything, read in one transaction."""
        conn = self._require()
        with self._lock:
            conn.execute("BEGIN")
            try:
                version = int(
                    conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()[0]
                )
                subjects = conn.execute(
                    "SELECT subject_id, label FROM subjects ORDER BY subject_id"
                ).fetchall()
                faces = conn.execute(
                    "SELECT subject_id, model_id, dim, vector FROM face_templates "
                    "ORDER BY template_id"
                ).fetchall()
                plates = conn.execute(
                    "SELECT subject_id, plate FROM plates ORDER BY subject_id, plate"
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        model_id = str(faces[0][1]) if faces else None
        if faces:
            dim = int(faces[0][2])
            matrix = np.frombuffer(b"".join(f[3] for f in faces), dtype="<f4").reshape(-1, dim)
            matrix = matrix.astype(np.float32)
        else:
            matrix = empty_matrix()
        return WatchlistSnapshot(
            version=version,
            face_model_id=model_id,
            subjects=tuple(Subject(str(sid), str(label)) for sid, label in subjects),
            face_subject_ids=tuple(str(f[0]) for f in faces),
            face_matrix=matrix,
            plates=tuple((str(s), str(p)) for s, p in plates),
        )

    def install_snapshot(self, snapshot: WatchlistSnapshot) -> None:
        """Replace the whole content with ``snapshot`` (e.g. from central sync), keeping
        its version, in one transaction: a crash leaves the old or the new list, never half.
        """
        if len(snapshot.face_subject_ids) != snapshot.face_matrix.shape[0]:
            raise WatchlistError("snapshot face ids and face matrix rows differ in number")
        if snapshot.face_subject_ids and snapshot.face_model_id is None:
            raise WatchlistError("snapshot has face templates but no face model id")
        matrix = normalise_rows(snapshot.face_matrix) if snapshot.face_subject_ids else None
        conn = self._require()
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in ("plates", "face_templates", "subjects"):
                    conn.execute(f"DELETE FROM {table}")
                conn.executemany(
                    "INSERT INTO subjects(subject_id, label) VALUES (?, ?)",
                    [(s.subject_id, s.label) for s in snapshot.subjects],
                )
                if matrix is not None:
                    conn.executemany(
                        "INSERT INTO face_templates(subject_id, model_id, dim, vector) "
                        "VALUES (?, ?, ?, ?)",
                        [
                            (
                                sid,
                                snapshot.face_model_id,
                                matrix.shape[1],
                                row.astype("<f4").tobytes(),
                            )
                            for sid, row in zip(snapshot.face_subject_ids, matrix, strict=True)
                        ],
                    )
                conn.executemany(
                    "INSERT INTO plates(subject_id, plate) VALUES (?, ?)", snapshot.plates
                )
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'version'", (str(snapshot.version),)
                )
                conn.execute("COMMIT")
            except sqlite3.IntegrityError as e:
                conn.execute("ROLLBACK")
                raise WatchlistError(f"snapshot {snapshot.version} is inconsistent: {e}") from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
