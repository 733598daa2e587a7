"""The gateway's copy of the watchlist: a local SQLite file plus the live matcher.

Matching must go on while the store is unreachable, so every snapshot received from
the store is installed into the local file first and only then made current; at start
the gateway matches against whatever the file holds.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from edge.config import MatchConfig
from edge.errors import ModelMismatchError
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.store import WatchlistFile
from edge.watchlist.types import WatchlistSnapshot, empty_matrix

log = logging.getLogger(__name__)


class LocalWatchlist:
    def __init__(self, path: Path, config: MatchConfig, face_model_id: str | None) -> None:
        self._file = WatchlistFile(path)
        self._config = config
        self._face_model_id = face_model_id
        self._lock = threading.Lock()
        self._matcher: WatchlistMatcher | None = None
        self._snapshot: WatchlistSnapshot | None = None

    def start(self) -> None:
        self._file.open()
        snapshot = self._file.snapshot()
        self._snapshot = snapshot
        self._matcher = WatchlistMatcher(self._usable(snapshot), self._config)
        log.info(
            "local watchlist loaded",
            extra={"version": snapshot.version, "subjects": len(snapshot.subjects)},
        )

    def stop(self) -> None:
        self._file.close()

    @property
    def version(self) -> int:
        return self.current().version

    def current(self) -> WatchlistMatcher:
        with self._lock:
            if self._matcher is None:
                raise RuntimeError("LocalWatchlist.start() was not called")
            return self._matcher

    def snapshot(self) -> WatchlistSnapshot:
        """The list as stored locally (what deltas apply to)."""
        with self._lock:
            if self._snapshot is None:
                raise RuntimeError("LocalWatchlist.start() was not called")
            return self._snapshot

    def install(self, snapshot: WatchlistSnapshot) -> None:
        """Persist ``snapshot``, then switch matching to it (atomically for readers)."""
        self._file.install_snapshot(snapshot)
        matcher = WatchlistMatcher(self._usable(snapshot), self._config)
        with self._lock:
            self._matcher = matcher
            self._snapshot = snapshot
        log.info(
            "watchlist updated",
            extra={
                "version": snapshot.version,
                "subjects": len(snapshot.subjects),
                "face_templates": len(snapshot.face_subject_ids),
                "plates": len(snapshot.plates),
            },
        )

    def _usable(self, snapshot: WatchlistSnapshot) -> WatchlistSnapshot:
        """Drop face templates of another model: plates still match, faces cannot."""
        model = snapshot.face_model_id
        if model is None or not snapshot.face_subject_ids or model == self._face_model_id:
            return snapshot
        err = ModelMismatchError(
            f"local watchlist face templates are for model {model!r} but this gateway runs "
            f"{self._face_model_id!r}; face matching is off until the store sends templates "
            "for this model"
        )
        log.error(str(err))
        return WatchlistSnapshot(
            version=snapshot.version,
            face_model_id=None,
            subjects=snapshot.subjects,
            face_subject_ids=(),
            face_matrix=empty_matrix(),
            plates=snapshot.plates,
        )
