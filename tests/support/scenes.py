"""Per-camera street scenes for RTSP tests and bench/density.py, rendered from the dev set.

A scene is 1080p / 25 fps H.264 (~4 Mbit/s, no B-frames, keyframe every 3 s) over the
1080p pedestrian clip (played forwards and backwards, its bystanders are on no
watchlist). After a lead-in of empty street (time for cameras to connect), it has
seven 3 s slots: one watchlisted person (photo pasted at ~100 px face width, walking
across for 2.5 s; a different photo of the same identity is enrolled) and six cars
(toll-station photos with verified labels, plate 130-190 px wide, driving in over 2 s;
cars 0, 2, 4 are on the watchlist, 1, 3, 5 are not). Every subject passes once.

Rendering is the cost, so a few distinct scenes are rendered once, each slot as its own
MPEG-TS segment starting on a keyframe, and cached under a hash of everything that
shapes the pixels. A camera's stream is the lead-in plus its scene's slots rotated by a
camera-dependent number of slots, joined by stream copy: cameras sharing a scene see
its subjects at different times, and nothing is encoded twice. Each camera's file has
a JSON sidecar (``<file>.json``) with every pass and its time in the stream.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

W, H, FPS = 1920, 1080, 25
SLOT_S = 3.0
SLOT_FRAMES = int(SLOT_S * FPS)
LEAD_SLOTS = 2
FACE_PASS_S, CAR_PASS_S = 2.5, 2.0
LISTED_CARS = (0, 2, 4)
CLIP = "video/pedestrians_arcade_1080p.mp4"
DEFAULT_CACHE = Path("/tmp/edgewatch-bench")
#: bump when the drawing changes, so cached files are not reused
RENDER_VERSION = "1"
FACE_WIDTH_PX = 100
_X264 = [
    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
    "-b:v", "4M", "-maxrate", "4M", "-bufsize", "8M", "-bf", "0",
    "-g", str(SLOT_FRAMES), "-keyint_min", str(SLOT_FRAMES), "-sc_threshold", "0",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Car:
    photo: str
    plate: str
    plate_box: tuple[int, int, int, int]  # x1, y1, x2, y2 in the photo
    listed: bool


@dataclass(frozen=True, slots=True)
class SceneSpec:
    """What one distinct scene shows (paths relative to the eval dir)."""

    index: int
    identity: str
    face_enrol: str  # enrolled on the watchlist, never shown
    face_shown: str
    cars: tuple[Car, ...]


@dataclass(frozen=True, slots=True)
class Pass:
    kind: str  # "face" | "plate"
    subject: str  # identity, or the plate text
    listed: bool
    start_s: float  # seconds from the stream's first frame
    end_s: float


@dataclass(frozen=True, slots=True)
class CameraStream:
    camera_id: str
    path: Path
    scene: int
    duration_s: float
    passes: tuple[Pass, ...]
    sub_path: Path | None = None  # the same scene at 640x360 (a camera's sub-stream)


# ---------------------------------------------------------------- choosing subjects
def pick_scenes(eval_dir: Path, n: int) -> list[SceneSpec]:
    """``n`` scenes with distinct people and cars (one identity with >= 3 single-face
    photos per scene; 6 verified toll-station cars per scene)."""
    rows = csv.DictReader((eval_dir / "faces_manifest.csv").open(encoding="utf-8"))
    people: dict[str, list[str]] = {}
    for r in rows:
        if r["role"] == "enroll_or_probe" and r["n_faces"] == "1":
            people.setdefault(r["identity"], []).append(r["file"])
    chosen = sorted((p for p in people.items() if len(p[1]) >= 3), key=lambda p: (-len(p[1]), p[0]))
    cars = [
        Car(r["file"], r["plate_text"], _box(r["bbox_xyxy"]), False)
        for r in csv.DictReader((eval_dir / "plates_manifest.csv").open(encoding="utf-8"))
        if r["subset"] == "toll_station_hyperlpr" and r["label_quality"] == "verified_visual"
    ]
    if n > len(chosen) or 6 * n > len(cars):
        raise ValueError(f"scenes={n}: the dev set has enough subjects for {len(chosen)} at most")
    specs = []
    for i in range(n):
        identity, photos = chosen[i]
        mine = [
            Car(c.photo, c.plate, c.plate_box, k in LISTED_CARS)
            for k, c in enumerate(cars[6 * i : 6 * i + 6])
        ]
        specs.append(SceneSpec(i, identity, sorted(photos)[0], sorted(photos)[1], tuple(mine)))
    return specs


def _box(text: str) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (int(float(v)) for v in text.split(","))
    return x1, y1, x2, y2


# ---------------------------------------------------------------- drawing
def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read the picture {path}")
    return np.asarray(img)


def _background(eval_dir: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(eval_dir / CLIP))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    if not frames:
        raise FileNotFoundError(f"cannot read {eval_dir / CLIP}")
    return frames + frames[-2:0:-1]  # ping-pong: no jump when it loops


def _face_patch(photo: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Head and shoulders around the face, scaled to a street-size face."""
    x1, y1, x2, y2 = box
    fw, cx, cy = x2 - x1, (x1 + x2) / 2, (y1 + y2) / 2
    half_w, top, bottom = 1.1 * fw, cy - 1.3 * fw, cy + 1.6 * fw
    ph, pw = photo.shape[:2]
    crop = photo[
        max(0, int(top)) : min(ph, int(bottom)),
        max(0, int(cx - half_w)) : min(pw, int(cx + half_w)),
    ]
    s = FACE_WIDTH_PX / fw
    return cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)


def _car_patch(photo: np.ndarray, plate_box: tuple[int, int, int, int]) -> np.ndarray:
    """The car's front around its plate (plate in the lower half), plate 150 px wide."""
    x1, y1, x2, y2 = plate_box
    pw = x2 - x1
    cx = (x1 + x2) / 2
    ph, wd = photo.shape[:2]
    crop = photo[
        max(0, int(y1 - 2.6 * pw)) : min(ph, int(y2 + 0.8 * pw)),
        max(0, int(cx - 2.4 * pw)) : min(wd, int(cx + 2.4 * pw)),
    ]
    s = 150 / pw
    return cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)


def _paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int, mask: np.ndarray | None) -> None:
    ph, pw = patch.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(W, x + pw), min(H, y + ph)
    if x1 <= x0 or y1 <= y0:
        return
    src = patch[y0 - y : y1 - y, x0 - x : x1 - x]
    if mask is None:
        frame[y0:y1, x0:x1] = src
        return
    m = mask[y0 - y : y1 - y, x0 - x : x1 - x, None]
    dst = frame[y0:y1, x0:x1]
    frame[y0:y1, x0:x1] = (src * m + dst * (1.0 - m)).astype(np.uint8)


def _soft_ellipse(h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - 2, h // 2 - 2), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), max(2.0, w / 25))


class _Drawer:
    """Draws frame ``i`` of a scene's subject slots (slot 0 person, slots 1-6 cars)."""

    def __init__(self, face: np.ndarray, cars: list[np.ndarray]) -> None:
        self.face, self.face_mask = face, _soft_ellipse(*face.shape[:2])
        self.cars = cars

    def draw(self, frame: np.ndarray, slot: int, t: float) -> None:
        """``t``: seconds into the slot."""
        if slot == 0:
            lead = (SLOT_S - FACE_PASS_S) / 2
            u = (t - lead) / FACE_PASS_S
            if 0.0 <= u <= 1.0:
                x = int(0.2 * W + u * 0.55 * W)
                _paste(frame, self.face, x, int(0.3 * H), self.face_mask)
            return
        lead = (SLOT_S - CAR_PASS_S) / 2
        u = (t - lead) / CAR_PASS_S
        if not 0.0 <= u <= 1.0:
            return
        car = self.cars[slot - 1]
        s = 0.85 + 0.35 * u  # comes closer: plate ~130 -> ~180 px
        img = cv2.resize(car, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
        h = img.shape[0]
        lane = (0.15, 0.5, 0.3, 0.6, 0.2, 0.45)[slot - 1]
        y = int(-0.5 * h + u * (H - 0.5 * h))
        _paste(frame, img, int(lane * W), y, None)


def pass_window(slot: int) -> tuple[float, float]:
    """Start and end of the pass in subject slot ``slot``, seconds from the slot's start."""
    length = FACE_PASS_S if slot == 0 else CAR_PASS_S
    lead = (SLOT_S - length) / 2
    return lead, lead + length


# ---------------------------------------------------------------- encoding
def _spec_key(spec: SceneSpec, eval_dir: Path) -> str:
    h = hashlib.sha256(RENDER_VERSION.encode())
    h.update(json.dumps(asdict(spec), sort_keys=True).encode())
    h.update(json.dumps(_X264).encode())
    for rel in (CLIP, spec.face_shown, *(c.photo for c in spec.cars)):
        h.update((eval_dir / rel).read_bytes())
    return h.hexdigest()[:16]


def _frames(
    spec: SceneSpec, eval_dir: Path, face_box: tuple[float, float, float, float]
) -> Iterator[bytes]:
    bg = _background(eval_dir)
    face = _face_patch(_read(eval_dir / spec.face_shown), face_box)
    cars = [_car_patch(_read(eval_dir / c.photo), c.plate_box) for c in spec.cars]
    drawer = _Drawer(face, cars)
    for i in range((LEAD_SLOTS + 7) * SLOT_FRAMES):
        frame = bg[(i + 37 * spec.index) % len(bg)].copy()
        slot, k = divmod(i, SLOT_FRAMES)
        if slot >= LEAD_SLOTS:
            drawer.draw(frame, slot - LEAD_SLOTS, k / FPS)
        yield frame.tobytes()


def render_scene(spec: SceneSpec, eval_dir: Path, models_dir: Path, cache: Path) -> Path:
    """The folder of the scene's segments (seg00.ts .. seg08.ts), rendered if not cached."""
    out = cache / f"scene-{_spec_key(spec, eval_dir)}"
    if (out / "done").is_file():
        return out
    log.info("rendering scene %d into %s", spec.index, out)
    box = face_box(models_dir, eval_dir / spec.face_shown)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        "ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
        "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-", *_X264,
        "-f", "segment", "-segment_time", str(SLOT_S), "-reset_timestamps", "1",
        "-segment_format", "mpegts", str(out / "seg%02d.ts"),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for raw in _frames(spec, eval_dir, box):
            proc.stdin.write(raw)
    finally:
        proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed rendering scene {spec.index} into {out}")
    segs = sorted(out.glob("seg*.ts"))
    if len(segs) != LEAD_SLOTS + 7:
        raise RuntimeError(f"{out}: expected {LEAD_SLOTS + 7} segments, got {len(segs)}")
    (out / "done").write_text("ok\n")
    return out


def face_box(models_dir: Path, photo: Path) -> tuple[float, float, float, float]:
    """The largest face of ``photo`` by the pack's own detector (where to cut it out)."""
    from edge.config import FaceConfig, RuntimeConfig
    from edge.modelpack import load_manifest
    from edge.vision.faces import load_scrfd_detector

    detector = load_scrfd_detector(models_dir, FaceConfig(), RuntimeConfig(), load_manifest())
    found = detector.detect(_read(photo))
    if not found:
        raise ValueError(f"{photo}: no face found to paste into a scene")
    b = max(found, key=lambda d: (d.box.x2 - d.box.x1) * (d.box.y2 - d.box.y1)).box
    return b.x1, b.y1, b.x2, b.y2


def _passes(spec: SceneSpec, rotation: int, lead: int, subjects: int) -> tuple[Pass, ...]:
    out = []
    for slot in range(7):
        if (slot - rotation) % 7 >= subjects:
            continue
        at = (lead + (slot - rotation) % 7) * SLOT_S
        a, b = pass_window(slot)
        if slot == 0:
            out.append(Pass("face", spec.identity, True, at + a, at + b))
        else:
            car = spec.cars[slot - 1]
            out.append(Pass("plate", car.plate, car.listed, at + a, at + b))
    return tuple(sorted(out, key=lambda p: p.start_s))


def sub_segments(scene_dir: Path) -> Path:
    """The scene's segments at 640x360 / 512 kbit/s (the sub-stream of an NVR-style
    camera, same frames and times), made once from the 1080p segments."""
    out = scene_dir / "sub"
    if (out / "done").is_file():
        return out
    out.mkdir(exist_ok=True)
    enc = [*_X264[:6], "-b:v", "512k", "-maxrate", "512k", "-bufsize", "1M", *_X264[12:]]
    for seg in sorted(scene_dir.glob("seg*.ts")):
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(seg), "-vf", "scale=640:360", *enc,
             "-f", "mpegts", str(out / seg.name)],
            check=True,
        )  # fmt: skip
    (out / "done").write_text("ok\n")
    return out


def _join(
    scene_dir: Path, out_dir: Path, rotation: int, lead: int, subjects: int, name: str
) -> Path:
    """``lead`` empty slots + the subject slots rotated by ``rotation``, by stream copy
    (no encode; the rendered empty slots are repeated for a longer lead-in)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}-rot{rotation}-lead{lead}-{subjects}.ts"
    if out.is_file():
        return out
    segs = [scene_dir / f"seg{i % LEAD_SLOTS:02d}.ts" for i in range(lead)]
    segs += [scene_dir / f"seg{LEAD_SLOTS + (rotation + j) % 7:02d}.ts" for j in range(subjects)]
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{s}'\n" for s in segs))
    tmp = out.with_suffix(".part.ts")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
         "-c", "copy", "-f", "mpegts", str(tmp)],
        check=True,
    )  # fmt: skip
    tmp.rename(out)
    return out


def camera_streams(
    n_cameras: int,
    eval_dir: Path,
    models_dir: Path,
    cache: Path = DEFAULT_CACHE,
    n_scenes: int = 4,
    lead_s: float = 9.0,
    subjects: int = 7,
    out_dir: Path | None = None,
    sub: bool = False,
) -> tuple[list[SceneSpec], list[CameraStream]]:
    """Streams for cameras cam-01..cam-NN (rendering missing scenes first). Camera k
    shows scene k % n_scenes rotated by k % 7 slots (distinct for up to 28 cameras),
    after ``lead_s`` (rounded up to whole slots) of street without subjects, which
    gives cameras time to connect to a live server before the first pass. ``subjects``
    < 7 keeps only the first slots after rotation (short streams for tests). Camera
    files and their sidecars go to ``out_dir`` (default: ``cache``); ``sub`` adds each
    camera's 640x360 sub-stream."""
    if n_cameras < 1:
        raise ValueError(f"n_cameras={n_cameras}: must be at least 1")
    if not 1 <= subjects <= 7:
        raise ValueError(f"subjects={subjects}: allowed 1..7 (a person and six cars)")
    lead = max(1, math.ceil(lead_s / SLOT_S))
    specs = pick_scenes(eval_dir, min(n_scenes, n_cameras))
    dirs = {}
    for spec in specs:
        dirs[spec.index] = render_scene(spec, eval_dir, models_dir, cache)
    streams = []
    for k in range(n_cameras):
        spec, rotation = specs[k % len(specs)], k % 7
        scene_dir, where = dirs[spec.index], out_dir or cache
        path = _join(scene_dir, where, rotation, lead, subjects, scene_dir.name)
        sub_path = None
        if sub:
            sub_dir = sub_segments(scene_dir)
            sub_path = _join(sub_dir, where, rotation, lead, subjects, scene_dir.name + "-sub")
        cam = CameraStream(
            f"cam-{k + 1:02d}",
            path,
            spec.index,
            (lead + subjects) * SLOT_S,
            _passes(spec, rotation, lead, subjects),
            sub_path,
        )
        sidecar = {**asdict(cam), "path": str(path), "sub_path": str(sub_path or ""),
                   "scene_spec": asdict(spec)}  # fmt: skip
        path.with_suffix(".json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=1))
        streams.append(cam)
    return specs, streams
