"""Sample evidence for the web tests: signed events through the real ingest path.

Used by the web, API and browser tests (loaded by file path through helpers.py): two
gateways with their own Ed25519 keys, three cameras with locations, repeat plates and
subjects over three days, one chain gap.
Every event is built by tests/support/samples.py, signed with its gateway's key and
delivered through ``IngestService.deliver`` (signature, blob hashes and chain checked
exactly as for a real gateway). Deterministic except for the gateway keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.config import VisionConfig
from edge.evidence.model import GENESIS_HASH, FaceHit, MatchEvent, PlateHit, event_hash
from edge.evidence.signing import generate_signing_key, sign_event
from edge.pki import new_token, token_sha256
from edge.store.admin_service import AdminService
from edge.store.audit import Auditor
from edge.store.config import Limits, Role, WebConfig
from edge.store.dispatch import DispatchService
from edge.store.faces import CentralFaces, FaceSearchIndex
from edge.store.ingest import IngestService, now_us
from edge.store.repository import Repository, Subject, User
from edge.store.review_service import ReviewService
from edge.store.sql import Database
from edge.store.sql_repo import SqlRepository
from edge.store.watchlist_service import WatchlistService
from edge.store.web.wiring import RunningWeb, start_web
from tests.support.samples import sample_event

HOUR_US = 3_600_000_000
#: 2025-06-15 00:00 in UTC+8
BASE_US = 1_749_916_800_000_000

CAMERAS: dict[tuple[str, str], tuple[float, float]] = {
    ("gw-1", "cam-1"): (22.543096, 114.057865),
    ("gw-1", "cam-2"): (22.547012, 114.063021),
    ("gw-2", "cam-1"): (22.535120, 114.050310),
}
SUBJECTS: dict[str, tuple[str, str | None]] = {
    "subj-7": ("流动摊贩 A（改装三轮车）", "粤B12345"),
    "subj-8": ("流动摊贩 B", "粤BD4521"),
    "subj-9": ("占道经营 C", "京A88888"),
    "subj-face": ("人脸布控 D", None),
}
#: (gateway, camera, hour offset from BASE_US, subject, face?, plate?)
PLAN: tuple[tuple[str, str, int, str, bool, bool], ...] = (
    ("gw-1", "cam-1", 8, "subj-7", True, True),
    ("gw-1", "cam-1", 9, "subj-7", False, True),
    ("gw-1", "cam-2", 10, "subj-8", False, True),
    ("gw-1", "cam-1", 11, "subj-face", True, False),
    ("gw-1", "cam-1", 14, "subj-7", True, True),
    ("gw-1", "cam-2", 15, "subj-7", False, True),
    ("gw-1", "cam-2", 33, "subj-8", False, True),
    ("gw-1", "cam-1", 34, "subj-face", True, False),
    ("gw-1", "cam-1", 35, "subj-9", False, True),
    ("gw-1", "cam-2", 56, "subj-7", True, True),
    ("gw-1", "cam-1", 58, "subj-face", True, False),
    ("gw-2", "cam-1", 9, "subj-9", False, True),
    ("gw-2", "cam-1", 20, "subj-7", False, True),
    ("gw-2", "cam-1", 26, "subj-8", False, True),  # 02:00 local: the previous day in UTC
    ("gw-2", "cam-1", 40, "subj-8", False, True),
    # gw-2 sequence 4 is never delivered: the next event arrives with a chain gap
    ("gw-2", "cam-1", 60, "subj-9", False, True),
)
GAP = ("gw-2", 4)


@dataclass(frozen=True, slots=True)
class Seeded:
    events: tuple[MatchEvent, ...]
    keys: dict[str, Ed25519PrivateKey]

    def of(self, gateway_id: str, sequence: int) -> MatchEvent:
        return next(e for e in self.events if (e.gateway_id, e.sequence) == (gateway_id, sequence))


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _hits(
    base: MatchEvent, subject: str, face: bool, plate: bool
) -> tuple[tuple[FaceHit, ...], tuple[PlateHit, ...]]:
    text = SUBJECTS[subject][1]
    faces = tuple(
        dataclasses.replace(f, subject_id=subject, similarity=0.55 + 0.01 * base.sequence)
        for f in base.faces
    )
    plates = tuple(
        dataclasses.replace(p, subject_id=subject, text=text, listed_text=text)
        for p in base.plates
        if text is not None
    )
    return (faces if face else ()), (plates if plate else ())


def _event(
    gid: str, seq: int, prev: str, cam: str, hour: int, subj: str, face: bool, plate: bool
) -> tuple[MatchEvent, dict[str, bytes]]:
    base, blobs = sample_event(seq, prev, gid)
    faces, plates = _hits(base, subj, face, plate)
    used = {f.crop for f in faces} | {p.crop for p in plates} | {"scene.jpg"}
    refs = tuple(b for b in base.blobs if b.name in used)
    event = dataclasses.replace(
        base,
        camera_id=cam,
        captured_at_us=BASE_US + hour * HOUR_US + seq * 7_000_000,
        faces=faces,
        plates=plates,
        blobs=refs,
        location=CAMERAS[(gid, cam)],
    )
    return event, {r.name: blobs[r.name] for r in refs}


def seed_sample_evidence(
    repo: Repository, ingest: IngestService, clock: Callable[[], int]
) -> Seeded:
    """Register the sample gateways and subjects, then deliver every sample event."""
    now = clock()
    keys = {gid: generate_signing_key() for gid in sorted({p[0] for p in PLAN})}
    for gid, key in keys.items():
        repo.gateways.register_gateway(gid, _raw(key), None, now)
    for sid, (label, text) in SUBJECTS.items():
        plates = (text,) if text else ()
        repo.watchlist.upsert_subject(Subject(sid, label, plates, (), now), "system:seed", now)
    prev = dict.fromkeys(keys, GENESIS_HASH)
    seq = dict.fromkeys(keys, 0)
    delivered = []
    for gid, cam, hour, subj, face, plate in PLAN:
        seq[gid] += 1
        event, blobs = _event(gid, seq[gid], prev[gid], cam, hour, subj, face, plate)
        prev[gid] = event_hash(event)
        if (gid, seq[gid]) == GAP:
            event, blobs = _event(gid, seq[gid] + 1, prev[gid], cam, hour, subj, face, plate)
            seq[gid] += 1
            prev[gid] = event_hash(event)
        ack = ingest.deliver(gid, event, sign_event(keys[gid], event), blobs)
        if ack.status != "stored":
            raise RuntimeError(f"sample event {event.event_id} was not stored: {ack.message}")
        delivered.append(event)
    return Seeded(tuple(delivered), keys)


class LocalStack:
    """A whole local store behind the reviewer page: repository, blobs, services, web.

    Wired the way the store's composition root wires them (same service classes, one
    Auditor), for demos and for the web tests. ``start()`` opens and serves,
    ``stop()`` closes in reverse order.
    """

    def __init__(
        self,
        db: Database,
        web: WebConfig,
        vision: VisionConfig | None = None,
        models_dir: Path | None = None,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.db = db
        self.repo = SqlRepository(db)
        self.blobs = self.repo.blobs
        self.web_config = web
        self._vision = vision or VisionConfig()
        self._models_dir = models_dir
        self.clock = clock
        self.running: RunningWeb | None = None

    @property
    def url(self) -> str:
        assert self.running is not None, "start() first"
        return self.running.server.url

    @property
    def dispatch(self) -> DispatchService | None:
        return self.running.dispatch if self.running else None

    def ingest(self) -> IngestService:
        return IngestService(self.repo, Limits(), self.clock)

    def add_user(self, name: str, role: Role) -> str:
        token = new_token()
        self.repo.users.put_user(User(name, role, token_sha256(token), self.clock()))
        return token

    def start(self) -> None:
        self.repo.open()
        auditor = Auditor(self.repo.audit, self.clock)
        faces = CentralFaces(self._vision, self._models_dir)
        index = FaceSearchIndex(self.repo.watchlist, faces.model_id)
        threshold = self._vision.match.face_threshold
        review = ReviewService(self.repo, self.blobs, faces, index, auditor, self.clock, threshold)
        watchlist = WatchlistService(self.repo, faces, auditor, self.clock)
        admin = AdminService(self.repo, auditor, self.clock)
        self.running = start_web(
            self.web_config,
            self.db,
            self.repo,
            self.blobs,
            auditor,
            review,
            watchlist,
            admin,
            self.clock,
        )

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None
        self.repo.close()
