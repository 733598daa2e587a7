"""Central watchlist: administration (audited) and versioned sync for gateways."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edge.errors import NotFoundError, WatchlistError
from edge.ids import uuid7
from edge.store.audit import Auditor
from edge.store.auth import Principal
from edge.store.faces import CentralFaces
from edge.store.repository import FaceTemplate, Repository, Subject, WatchlistChange
from edge.vision.plate_grammar import normalise_plate, validate_plate
from edge.watchlist import types as wl

log = logging.getLogger(__name__)

MAX_PHOTOS = 8
MAX_PHOTO_BYTES = 10 << 20
MAX_LABEL = 200
MAX_SUBJECT_ID = 64
MAX_DELTAS = 1000


@dataclass(frozen=True, slots=True)
class PhotoResult:
    index: int
    used: bool
    reason: str


@dataclass(frozen=True, slots=True)
class AddFaceResult:
    subject_id: str
    version: int
    templates_added: int
    model_id: str
    photos: tuple[PhotoResult, ...]


@dataclass(frozen=True, slots=True)
class Deltas:
    version: int
    changes: tuple[WatchlistChange, ...]
    snapshot_required: bool


def _check_ids(subject_id: str | None, label: str) -> None:
    if len(label) > MAX_LABEL:
        raise WatchlistError(f"label is {len(label)} characters; at most {MAX_LABEL}")
    if subject_id is not None and (
        not subject_id or len(subject_id) > MAX_SUBJECT_ID or not subject_id.isprintable()
    ):
        raise WatchlistError(f"subject id must be 1..{MAX_SUBJECT_ID} printable characters")


def template_matrix(templates: Sequence[FaceTemplate]) -> np.ndarray:
    if not templates:
        return wl.empty_matrix()
    return np.stack([np.frombuffer(t.vector, dtype="<f4") for t in templates]).astype(np.float32)


class WatchlistService:
    def __init__(
        self, repo: Repository, faces: CentralFaces, auditor: Auditor, clock: Callable[[], int]
    ) -> None:
        self._repo = repo
        self._faces = faces
        self._auditor = auditor
        self._clock = clock

    @property
    def face_model_id(self) -> str:
        return self._faces.model_id

    def _existing(self, subject_id: str | None, label: str) -> Subject:
        if subject_id:
            found = self._repo.watchlist.get_subject(subject_id)
            if found is not None:
                return Subject(
                    found.subject_id,
                    label or found.label,
                    found.plates,
                    found.templates,
                    found.created_at_us,
                )
        if not label.strip():
            raise WatchlistError("a new subject needs a label")
        return Subject(subject_id or uuid7(), label, created_at_us=self._clock())

    def add_face(
        self,
        who: Principal,
        subject_id: str | None,
        label: str,
        photos: Sequence[bytes],
        largest: bool,
    ) -> AddFaceResult:
        _check_ids(subject_id, label)
        if not 1 <= len(photos) <= MAX_PHOTOS:
            raise WatchlistError(f"give 1..{MAX_PHOTOS} photos (got {len(photos)})")
        for i, p in enumerate(photos):
            if len(p) > MAX_PHOTO_BYTES:
                raise WatchlistError(f"photo {i} is {len(p)} bytes; at most {MAX_PHOTO_BYTES}")
        results, templates = [], []
        for i, data in enumerate(photos):
            outcome = self._faces.embed_photo(data, f"photo {i}", largest)
            results.append(PhotoResult(i, outcome.embedding is not None, outcome.reason))
            if outcome.embedding is not None:
                vec = np.asarray(outcome.embedding.vector, dtype="<f4").tobytes()
                templates.append(
                    FaceTemplate(uuid.uuid4().hex, "", outcome.embedding.model_id, vec)
                )
        if not templates:
            reasons = "; ".join(f"photo {r.index}: {r.reason}" for r in results)
            raise WatchlistError(f"no usable face in any photo ({reasons})")
        base = self._existing(subject_id, label)
        mine = tuple(
            FaceTemplate(t.template_id, base.subject_id, t.model_id, t.vector) for t in templates
        )
        subject = Subject(
            base.subject_id, base.label, base.plates, base.templates + mine, base.created_at_us
        )
        version = self._repo.watchlist.upsert_subject(subject, who.actor, self._clock())
        self._auditor.record(
            who,
            "watchlist.add_face",
            {
                "subject_id": subject.subject_id,
                "templates_added": len(mine),
                "model_id": self.face_model_id,
                "version": version,
            },
        )
        return AddFaceResult(
            subject.subject_id, version, len(mine), mine[0].model_id, tuple(results)
        )

    def add_plate(
        self, who: Principal, subject_id: str | None, label: str, text: str
    ) -> tuple[str, int, str]:
        _check_ids(subject_id, label)
        result = validate_plate(normalise_plate(text))
        if not result.valid:
            raise WatchlistError(f"plate refused: {result.reason}")
        base = self._existing(subject_id, label)
        plates = tuple(dict.fromkeys((*base.plates, result.text)))
        subject = Subject(base.subject_id, base.label, plates, base.templates, base.created_at_us)
        version = self._repo.watchlist.upsert_subject(subject, who.actor, self._clock())
        self._auditor.record(
            who,
            "watchlist.add_plate",
            {"subject_id": subject.subject_id, "plate": result.text, "version": version},
        )
        return subject.subject_id, version, result.text

    def remove(self, who: Principal, subject_id: str) -> tuple[bool, int]:
        version = self._repo.watchlist.remove_subject(subject_id, who.actor, self._clock())
        self._auditor.record(
            who, "watchlist.remove", {"subject_id": subject_id, "removed": version is not None}
        )
        return version is not None, version or self._repo.watchlist.version()

    def list_subjects(self, who: Principal) -> tuple[list[Subject], int]:
        version = self._repo.watchlist.version()
        subjects = self._repo.watchlist.list_subjects()
        self._auditor.record(who, "watchlist.list", {"results": len(subjects)})
        return subjects, version

    def subject(self, subject_id: str) -> Subject:
        found = self._repo.watchlist.get_subject(subject_id)
        if found is None:
            raise NotFoundError(f"no watchlist subject {subject_id!r}")
        return found

    # --- sync (gateways) ----------------------------------------------------------

    def snapshot(self) -> wl.WatchlistSnapshot:
        """Everything at one version, face templates of the store's face model only."""
        version = self._repo.watchlist.version()  # first: content is at least this new
        subjects = self._repo.watchlist.list_subjects()
        model = self.face_model_id
        face_ids: list[str] = []
        rows: list[FaceTemplate] = []
        for s in subjects:
            for t in s.templates:
                if t.model_id == model:
                    face_ids.append(s.subject_id)
                    rows.append(t)
        return wl.WatchlistSnapshot(
            version=version,
            face_model_id=model if rows else None,
            subjects=tuple(wl.Subject(s.subject_id, s.label) for s in subjects),
            face_subject_ids=tuple(face_ids),
            face_matrix=template_matrix(rows),
            plates=tuple((s.subject_id, p) for s in subjects for p in s.plates),
        )

    def deltas(self, since: int) -> Deltas:
        version = self._repo.watchlist.version()
        if since > version:
            return Deltas(version, (), True)
        changes = self._repo.watchlist.changes_since(since, MAX_DELTAS)
        if len(changes) == MAX_DELTAS:  # more to come: the gateway is current up to here
            version = changes[-1].version
        elif changes:
            version = max(version, changes[-1].version)
        return Deltas(version, tuple(changes), False)

    def template_count(self) -> int:
        """Templates of the store's face model (what sync can send)."""
        return self._repo.watchlist.template_models().get(self.face_model_id, 0)
