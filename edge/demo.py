"""`edgewatch demo`: a complete local deployment on sample pictures, in one process.

init (CA, certs, keys, configs; key locations in store.yaml) -> store (SQLite) -> enrol
sample watchlist entries through the store's admin API -> one gateway over sample
images and a video -> two weeks of past matches of a second gateway at several
cameras with locations (edge/demo_history.py) -> the matches as a reviewer sees them
-> optionally the reviewer web page (with its key-location analytics).
"""

from __future__ import annotations

import csv
import logging
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from edge.api.types import EventQuery, EventRow
from edge.config import load_model
from edge.demo_history import LOCATIONS, Subject, history
from edge.deployment import init_deployment
from edge.errors import ConfigError
from edge.gateway.app import Gateway, run_once
from edge.gateway.config import CameraConfig, GatewayConfig
from edge.review.client import StoreClient
from edge.review.config import ClientConfig
from edge.store.config import StoreConfig
from edge.store.ingest import now_us
from edge.store.server import StoreServer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoSamples:
    faces: tuple[tuple[str, tuple[Path, ...]], ...]  # label -> enrolment photos
    plates: tuple[tuple[str, str], ...]  # label -> plate text
    images: tuple[Path, ...]  # pictures dropped into the gateway's folder camera
    video: Path | None
    origin: str


@dataclass
class DemoResult:
    events: list[EventRow] = field(default_factory=list)  # of the live gateway run
    delivered_message: str = ""
    web_url: str | None = None
    history_events: int = 0  # the second gateway's past two weeks
    locations: int = 0


def _eval_samples(eval_dir: Path) -> DemoSamples:
    rows = list(csv.DictReader((eval_dir / "faces_manifest.csv").open(encoding="utf-8")))
    people: dict[str, list[Path]] = {}
    for r in rows:
        if r["role"] == "enroll_or_probe" and r["n_faces"] == "1":
            people.setdefault(r["identity"], []).append(eval_dir / r["file"])
    chosen = sorted((p for p in people.items() if len(p[1]) >= 3), key=lambda p: -len(p[1]))[:2]
    plates = [
        r
        for r in csv.DictReader((eval_dir / "plates_manifest.csv").open(encoding="utf-8"))
        if r["subset"] == "toll_station_hyperlpr" and r["label_quality"] == "verified_visual"
    ][:3]
    images = [photos[1] for _, photos in chosen] + [eval_dir / r["file"] for r in plates]
    images += [eval_dir / "privacy" / n for n in ("group_insightface_t1.jpg", "street_bus.jpg")]
    video = eval_dir / "video" / "pedestrians_arcade_1080p.mp4"
    return DemoSamples(
        faces=tuple((f"demo person {i + 1}", (photos[0],)) for i, (_, photos) in enumerate(chosen)),
        # the third plate is not enrolled: it must come out blurred, never as a match
        plates=tuple((f"demo vehicle {i + 1}", r["plate_text"]) for i, r in enumerate(plates[:2])),
        images=tuple(p for p in images if p.is_file()),
        video=video if video.is_file() else None,
        origin=str(eval_dir),
    )


def _package_samples() -> DemoSamples:
    """Without the evaluation set: insightface's bundled group photo (6 people)."""
    root = Path(str(resources.files("insightface"))) / "data" / "images"
    t1 = root / "t1.jpg"
    if not t1.is_file():
        raise ConfigError(f"no sample pictures: set EDGE_EVAL_DIR or reinstall insightface ({t1})")
    return DemoSamples(
        faces=(("demo person 1", (t1,)),), plates=(), images=(t1,), video=None, origin=str(root)
    )


def find_samples(eval_dir: Path | None) -> DemoSamples:
    if eval_dir is not None and (eval_dir / "faces_manifest.csv").is_file():
        return _eval_samples(eval_dir)
    return _package_samples()


def _enrol(admin: ClientConfig, samples: DemoSamples) -> list[Subject]:
    from edge.review.watchlist_client import StoreWatchlistAdmin

    subjects = []
    with StoreClient(admin) as client:
        wl = StoreWatchlistAdmin(client)
        for label, photos in samples.faces:
            added = wl.add_face_photos(label, list(photos), largest=True)
            subjects.append(Subject(added.subject_id, None))
        for label, text in samples.plates:
            subjects.append(Subject(wl.add_plate_subject(label, [text]), text))
    return subjects


def _gateway_config(root: Path, samples: DemoSamples) -> GatewayConfig:
    cfg = load_model(GatewayConfig, root / "gateway-1.yaml")
    drop = cfg.data_dir / "drop"
    drop.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(samples.images):
        shutil.copyfile(src, drop / f"{i:03d}{src.suffix.lower()}")
    cams = [CameraConfig(id="cam-folder", source=f"folder:{drop}")]
    if samples.video is not None:
        cams.append(CameraConfig(id="cam-video", source=f"file:{samples.video}", fps=5.0))
    return cfg.model_copy(update={"cameras": cams})


def _add_locations(store_yaml: Path) -> None:
    """Tag the demo's cameras as key locations (analytics page, dispatch rules)."""
    data = yaml.safe_load(store_yaml.read_text(encoding="utf-8"))
    data["locations"] = LOCATIONS
    store_yaml.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


class Demo:
    """The demo deployment; ``start`` runs the flow and leaves the store serving."""

    def __init__(
        self, root: Path, models_dir: Path, eval_dir: Path | None, deadline_s: float
    ) -> None:
        self._root = root
        self._models_dir = models_dir
        self._eval_dir = eval_dir
        self._deadline_s = deadline_s
        self._store: StoreServer | None = None

    def start(self) -> DemoResult:
        root = self._root
        samples = find_samples(self._eval_dir)
        address, _ = init_deployment(root, gateways=2)
        _add_locations(root / "store.yaml")
        self._store = StoreServer(
            load_model(StoreConfig, root / "store.yaml"), models_dir=self._models_dir
        )
        self._store.start()
        subjects = _enrol(load_model(ClientConfig, root / "admin.yaml"), samples)
        result = DemoResult(locations=len(LOCATIONS))
        gateway = Gateway(_gateway_config(root, samples), self._models_dir)
        gateway.start(wait_for_sync_s=30.0, once=True)
        try:
            code, result.delivered_message = run_once(gateway, self._deadline_s)
        finally:
            gateway.stop()
        if code != 0:
            raise ConfigError(f"demo gateway did not finish: {result.delivered_message}")
        result.history_events = history(root, address, subjects, samples.images, now_us())
        with StoreClient(load_model(ClientConfig, root / "reviewer.yaml")) as client:
            rows, _ = client.search(EventQuery(gateway_id="gw-1", limit=200))
        result.events = rows
        result.web_url = getattr(self._store, "web_url", None)
        return result

    def stop(self) -> None:
        if self._store is not None:
            self._store.stop()
            self._store = None
