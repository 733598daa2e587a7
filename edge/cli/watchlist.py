"""`edgewatch watchlist add-face|add-plate|list|remove`: manage a watchlist.

Every sub-command talks to a ``WatchlistAdmin``. Today the only one is
``LocalWatchlistAdmin`` (``--watchlist FILE``, the gateway's SQLite file); a
store-backed admin (``--config admin.yaml``) plugs in through ``open_admin`` and the
``target`` argument group without changing any other argument.

Faces are embedded here, with the local model pack, so an admin only ever receives
templates (with their model id), never photos.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from edge.errors import WatchlistError

if TYPE_CHECKING:
    from edge.config import FaceConfig
    from edge.vision.types import Face, FaceEmbedding
    from edge.watchlist.store import WatchlistFile
    from edge.watchlist.types import SubjectSummary


class WatchlistAdmin(Protocol):
    """What the watchlist CLI needs from wherever a watchlist lives."""

    def face_model_id(self) -> str | None:
        """Model id of the stored face templates (None when there are none)."""
        ...

    def add_face_subject(self, label: str, templates: Sequence[FaceEmbedding]) -> str: ...

    def add_plate_subject(self, label: str, plates: Sequence[str]) -> str:
        """``plates`` are already normalised and validated."""
        ...

    def list_subjects(self) -> list[SubjectSummary]: ...

    def remove_subject(self, subject_id: str) -> bool: ...

    def close(self) -> None: ...


class LocalWatchlistAdmin:
    """A watchlist file on this machine; created on the first change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: WatchlistFile | None = None

    def __enter__(self) -> LocalWatchlistAdmin:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _open(self, *, create: bool) -> WatchlistFile:
        if self._file is None:
            from edge.watchlist.store import WatchlistFile

            if not create and not self.path.is_file():
                raise WatchlistError(f"watchlist file {str(self.path)!r} does not exist")
            wl = WatchlistFile(self.path)
            wl.open()
            self._file = wl
        return self._file

    def face_model_id(self) -> str | None:
        if not self.path.is_file():
            return None
        return self._open(create=False).face_model_id()

    def add_face_subject(self, label: str, templates: Sequence[FaceEmbedding]) -> str:
        wl = self._open(create=True)
        sid = wl.add_subject(label)
        try:
            for t in templates:
                wl.add_face_template(sid, t)
        except BaseException:
            wl.remove(sid)  # all photos or none
            raise
        return sid

    def add_plate_subject(self, label: str, plates: Sequence[str]) -> str:
        wl = self._open(create=True)
        sid = wl.add_subject(label)
        try:
            for text in plates:
                wl.add_plate(sid, text)
        except BaseException:
            wl.remove(sid)
            raise
        return sid

    def list_subjects(self) -> list[SubjectSummary]:
        from edge.watchlist.types import SubjectSummary

        snap = self._open(create=False).snapshot()
        plates: dict[str, list[str]] = {}
        for sid, text in snap.plates:
            plates.setdefault(sid, []).append(text)
        return [
            SubjectSummary(
                s.subject_id,
                s.label,
                snap.face_subject_ids.count(s.subject_id),
                tuple(plates.get(s.subject_id, ())),
            )
            for s in snap.subjects
        ]

    def remove_subject(self, subject_id: str) -> bool:
        return self._open(create=False).remove(subject_id)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def open_admin(args: argparse.Namespace) -> WatchlistAdmin:
    """The plug point for other watchlist back-ends (e.g. the central store)."""
    if args.watchlist is not None:
        return LocalWatchlistAdmin(args.watchlist)
    if getattr(args, "config", None) is not None:
        from edge.review.watchlist_client import StoreWatchlistAdmin

        return StoreWatchlistAdmin.from_config(args.config)
    raise WatchlistError("pass --watchlist FILE or --config FILE")


def _target(p: argparse.ArgumentParser) -> None:
    target = p.add_argument_group("watchlist").add_mutually_exclusive_group(required=True)
    target.add_argument("--watchlist", type=Path, metavar="FILE", help="local watchlist file")
    target.add_argument(
        "--config", type=Path, metavar="FILE", help="admin client config: the store's watchlist"
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("watchlist", help="enrol, list and remove watchlist subjects")
    wsub = p.add_subparsers(dest="watchlist_command", required=True)

    f = wsub.add_parser("add-face", help="enrol one person from one or more photos")
    _target(f)
    f.add_argument("--label", required=True, help="operator's name for the subject")
    f.add_argument("--largest", action="store_true", help="use the largest face of a group photo")
    f.add_argument(
        "--models", type=Path, metavar="DIR", help="model pack (default: EDGE_MODELS_DIR)"
    )
    f.add_argument("photos", nargs="+", type=Path, metavar="PHOTO")
    f.set_defaults(handler=run_add_face)

    pl = wsub.add_parser("add-plate", help="watch one or more plates for one subject")
    _target(pl)
    pl.add_argument("--label", required=True, help="operator's name for the subject")
    pl.add_argument("plates", nargs="+", metavar="PLATE", help="e.g. 粤B12345 (normalised)")
    pl.set_defaults(handler=run_add_plate)

    ls = wsub.add_parser("list", help="list subjects")
    _target(ls)
    ls.add_argument("--json", action="store_true", help="one JSON object per subject")
    ls.set_defaults(handler=run_list)

    rm = wsub.add_parser("remove", help="remove subjects with their faces and plates")
    _target(rm)
    rm.add_argument("subject_ids", nargs="+", metavar="SUBJECT_ID")
    rm.set_defaults(handler=run_remove)


def pick_face(faces: Sequence[Face], photo: Path, *, largest: bool, config: FaceConfig) -> Face:
    """The one face to enrol from a photo, or a WatchlistError saying why there is none."""
    if not faces:
        raise WatchlistError(
            f"{photo}: no face found; use a photo where the face is clearly visible"
        )
    if len(faces) > 1 and not largest:
        raise WatchlistError(
            f"{photo}: {len(faces)} faces found; crop the photo to one person or pass --largest"
        )
    face = max(faces, key=lambda f: f.detection.box.area)
    if face.quality.size < config.min_face_px:
        raise WatchlistError(
            f"{photo}: the face is {face.quality.size:.0f} px, below faces.min_face_px "
            f"{config.min_face_px}; use a closer photo"
        )
    if face.quality.score < config.min_quality:
        raise WatchlistError(
            f"{photo}: face quality {face.quality.score:.2f} is below faces.min_quality "
            f"{config.min_quality:.2f} (face {face.quality.size:.0f} px); use a sharper, "
            "more frontal photo"
        )
    if face.embedding is None:
        raise WatchlistError(f"{photo}: the face could not be embedded; use another photo")
    return face


def _add_face_central(args: argparse.Namespace) -> int:
    """`watchlist add-face --config admin.yaml PHOTO...`: the store embeds the photos, so
    no model is loaded here."""
    from edge.review.watchlist_client import StoreWatchlistAdmin

    with closing(StoreWatchlistAdmin.from_config(args.config)) as admin:
        outcome = admin.add_face_photos(args.label, args.photos, args.largest)
    for photo in outcome.photos:
        if not photo.used:
            print(f"{args.photos[photo.index]}: not used ({photo.reason})")
    print(outcome.subject_id)
    return 0


def run_add_face(args: argparse.Namespace) -> int:
    if getattr(args, "config", None) is not None:  # the store embeds photos centrally
        return _add_face_central(args)

    from edge.analysis import check_face_model
    from edge.config import FaceConfig, ImageLimits, RuntimeConfig, resolve_models_dir
    from edge.imageio import load_image
    from edge.modelpack import load_manifest
    from edge.vision.faces import load_face_analyzer

    config = FaceConfig()
    with closing(open_admin(args)) as admin:
        models_dir = resolve_models_dir(args.models)
        analyzer = load_face_analyzer(models_dir, config, RuntimeConfig(), load_manifest())
        check_face_model(admin.face_model_id(), analyzer.model_id)
        templates = []
        for photo in args.photos:
            image = load_image(photo, ImageLimits()).image
            face = pick_face(
                analyzer.analyze(image, embed=True), photo, largest=args.largest, config=config
            )
            if face.embedding is not None:  # pick_face guarantees it; this narrows the type
                templates.append(face.embedding)
        print(admin.add_face_subject(args.label, templates))
    return 0


def run_add_plate(args: argparse.Namespace) -> int:
    from edge.vision.plate_grammar import normalise_plate, validate_plate

    plates = []
    for raw in args.plates:
        result = validate_plate(normalise_plate(raw))
        if not result.valid:
            raise WatchlistError(f"plate {raw!r} refused: {result.reason}")
        plates.append(result.text)
    with closing(open_admin(args)) as admin:
        print(admin.add_plate_subject(args.label, plates))
    return 0


def run_list(args: argparse.Namespace) -> int:
    with closing(open_admin(args)) as admin:
        for s in admin.list_subjects():
            if args.json:
                row = {
                    "subject_id": s.subject_id,
                    "label": s.label,
                    "faces": s.faces,
                    "plates": list(s.plates),
                }
                print(json.dumps(row, ensure_ascii=False))
            else:
                plates = ",".join(s.plates) or "-"
                print(f"{s.subject_id}  {s.label}  faces {s.faces}  plates {plates}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    failed = 0
    with closing(open_admin(args)) as admin:
        for sid in args.subject_ids:
            if admin.remove_subject(sid):
                print(f"removed {sid}")
            else:
                failed += 1
                print(f"edgewatch: error: unknown subject {sid!r}", file=sys.stderr)
    return 1 if failed else 0
