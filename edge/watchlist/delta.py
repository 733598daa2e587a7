"""Applying central watchlist changes to a local snapshot (pure).

Gateways sync by deltas once they hold a snapshot: each change replaces or removes one
subject with all its templates and plates, so applying them in version order yields
exactly the store's list at the new version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from edge.errors import WatchlistError
from edge.watchlist.types import Subject, WatchlistSnapshot, empty_matrix


@dataclass(frozen=True, slots=True)
class SubjectChange:
    version: int
    op: Literal["upsert", "remove"]
    subject: Subject
    faces: NDArray[np.float32]  # this subject's template rows (k x D), k may be 0
    plates: tuple[str, ...]


def apply_changes(
    snapshot: WatchlistSnapshot,
    changes: Sequence[SubjectChange],
    version: int,
    face_model_id: str | None,
) -> WatchlistSnapshot:
    """``snapshot`` with ``changes`` applied, at ``version``.

    ``face_model_id`` names the model of the rows carried by the changes; rows of a
    model other than the snapshot's are refused (the caller fetches a full snapshot).
    """
    if snapshot.face_subject_ids and face_model_id not in (None, snapshot.face_model_id):
        raise WatchlistError(
            f"changes carry templates of {face_model_id!r}, the local list holds "
            f"{snapshot.face_model_id!r}; a full snapshot is needed"
        )
    subjects = {s.subject_id: s for s in snapshot.subjects}
    rows: dict[str, list[NDArray[np.float32]]] = {}
    for sid, row in zip(snapshot.face_subject_ids, snapshot.face_matrix, strict=True):
        rows.setdefault(sid, []).append(row)
    plates: dict[str, list[str]] = {}
    for sid, text in snapshot.plates:
        plates.setdefault(sid, []).append(text)
    for c in sorted(changes, key=lambda c: c.version):
        sid = c.subject.subject_id
        subjects.pop(sid, None)
        rows.pop(sid, None)
        plates.pop(sid, None)
        if c.op == "upsert":
            subjects[sid] = c.subject
            if len(c.faces):
                rows[sid] = list(c.faces)
            if c.plates:
                plates[sid] = list(c.plates)
    ids = tuple(sid for sid, rs in rows.items() for _ in rs)
    flat = [r for rs in rows.values() for r in rs]
    matrix = np.stack(flat).astype(np.float32) if flat else empty_matrix()
    model = (snapshot.face_model_id or face_model_id) if ids else None
    return WatchlistSnapshot(
        version=version,
        face_model_id=model,
        subjects=tuple(subjects.values()),
        face_subject_ids=ids,
        face_matrix=matrix,
        plates=tuple((sid, t) for sid, ts in plates.items() for t in ts),
    )
