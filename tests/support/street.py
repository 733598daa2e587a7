"""Street-conditions degradation suite: seeded, reproducible street scenes from clean pictures.

A *scene* is a clean evaluation picture shrunk so that its target (a plate or a face)
has a street-camera size, pasted into a 1920x1080 frame, then degraded at frame level
(night, motion blur, tilt, compression, weather) the way a camera would degrade it.
Everything is seeded from (condition, file, seed): the same arguments give the same
pixels on every run and machine, so two pipelines are compared on identical frames.

The degradations come from albumentations (maintained, seedable through
``Compose(seed=...)``); the H.264 round trip is a real libx264 encode and decode through
PyAV. Scoring lives in ``tests.support.street_score``.
"""

from __future__ import annotations

import io
import os
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import av
import cv2
import numpy as np

from edge.vision.types import Box, Image

# albumentations asks PyPI for a newer version on import unless told not to: no hidden
# network access from the test tooling
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as alb  # type: ignore[import-untyped]

FRAME_W, FRAME_H = 1920, 1080
#: fraction of the frame kept free between the target and each edge (see ``place``)
EDGE_MARGIN = 0.08
Target = Literal["plate", "face"]

#: street sizes (target width in the 1080p frame, px): plates 50-120 px, faces 30-80 px
PLATE_NEAR_PX = 120
PLATE_FAR_PX = 60
FACE_NEAR_PX = 64
FACE_FAR_PX = 40
#: each scene's target width varies by up to this fraction around the nominal size
SIZE_JITTER = 0.08


def _night() -> alb.BasicTransform:
    # dark exposure plus the sensor noise a camera's gain adds at night
    return alb.Compose(
        [
            alb.RandomBrightnessContrast(
                brightness_limit=(-0.45, -0.35), contrast_limit=(-0.35, -0.25), p=1.0
            ),
            alb.GaussNoise(std_range=(0.02, 0.035), per_channel=True, p=1.0),
        ]
    )


def _blur(low: int, high: int) -> alb.BasicTransform:
    # any direction, kernel length in frame pixels (odd); not always centred
    return alb.MotionBlur(blur_limit=(low, high), angle_range=(0, 360), allow_shifted=True, p=1.0)


def _tilt() -> alb.BasicTransform:
    return alb.Compose(
        [
            alb.Perspective(
                scale=(0.04, 0.07), keep_size=True, border_mode=cv2.BORDER_REPLICATE, p=1
            ),
            alb.Rotate(limit=(-12, 12), border_mode=cv2.BORDER_REPLICATE, p=1.0),
        ]
    )


def _jpeg() -> alb.BasicTransform:
    return alb.ImageCompression(compression_type="jpeg", quality_range=(12, 20), p=1.0)


def _rain() -> alb.BasicTransform:
    # short, thin streaks (rain 5-15 m away), slightly dimmed frame; albumentations'
    # "heavy" preset draws streaks of ~100 px across the whole frame, like water on the lens
    return alb.RandomRain(
        slant_range=(-10, 10),
        drop_length=15,
        drop_width=1,
        drop_color=(190, 190, 190),
        blur_value=3,
        brightness_coefficient=0.85,
        rain_type="drizzle",
        p=1.0,
    )


@dataclass(frozen=True)
class Condition:
    """One street condition: target size in the frame, then frame-level degradation."""

    name: str
    target: Target
    size_px: int
    describe: str
    transform: Callable[[], alb.BasicTransform] | None = None
    #: H.264 constant rate factor of a libx264 round trip, None = no video codec
    h264_crf: int | None = None


PLATE_CONDITIONS: tuple[Condition, ...] = (
    Condition("clean", "plate", PLATE_NEAR_PX, "plate ~120 px wide in 1080p, no degradation"),
    Condition(
        "night", "plate", PLATE_NEAR_PX, "brightness -40 %, contrast -30 %, noise σ 2-3.5 %", _night
    ),
    Condition(
        "motion_blur",
        "plate",
        PLATE_NEAR_PX,
        "motion blur 9-19 px, any direction",
        lambda: _blur(9, 19),
    ),
    Condition("distance", "plate", PLATE_FAR_PX, "plate ~60 px wide in 1080p"),
    Condition("tilt", "plate", PLATE_NEAR_PX, "perspective 4-7 % + rotation ±12°", _tilt),
    Condition("jpeg", "plate", PLATE_NEAR_PX, "JPEG quality 12-20", _jpeg),
    Condition("h264", "plate", PLATE_NEAR_PX, "libx264 CRF 30 round trip (PyAV)", h264_crf=30),
    Condition(
        "rain",
        "plate",
        PLATE_NEAR_PX,
        "rain streaks 15 px (RandomRain drizzle), -15 % light",
        _rain,
    ),
)

FACE_CONDITIONS: tuple[Condition, ...] = (
    Condition("clean", "face", FACE_NEAR_PX, "face ~64 px wide in 1080p, no degradation"),
    Condition(
        "night",
        "face",
        FACE_NEAR_PX,
        "64 px; brightness -40 %, contrast -30 %, noise σ 2-3.5 %",
        _night,
    ),
    Condition(
        "motion_blur",
        "face",
        FACE_NEAR_PX,
        "64 px; motion blur 5-11 px, any direction",
        lambda: _blur(5, 11),
    ),
    Condition("distance", "face", FACE_FAR_PX, "face ~40 px wide in 1080p"),
    Condition("tilt", "face", FACE_NEAR_PX, "64 px; perspective 4-7 % + rotation ±12°", _tilt),
    Condition("jpeg", "face", FACE_NEAR_PX, "64 px; JPEG quality 12-20", _jpeg),
    Condition("h264", "face", FACE_NEAR_PX, "64 px; libx264 CRF 30 round trip (PyAV)", h264_crf=30),
    Condition(
        "rain",
        "face",
        FACE_NEAR_PX,
        "64 px; rain streaks 15 px (RandomRain drizzle), -15 % light",
        _rain,
    ),
)


def condition(target: Target, name: str) -> Condition:
    """The named condition of a target kind; a clear error lists the known ones."""
    table = PLATE_CONDITIONS if target == "plate" else FACE_CONDITIONS
    for c in table:
        if c.name == name:
            return c
    raise ValueError(f"unknown {target} condition {name!r}; known: {[c.name for c in table]}")


def sized(base: Condition, size_px: int) -> Condition:
    """The same degradation with another target width (face-size sweeps)."""
    return Condition(
        f"{base.name}@{size_px}px",
        base.target,
        size_px,
        base.describe,
        base.transform,
        base.h264_crf,
    )


@dataclass(frozen=True)
class Scene:
    """Degraded frames of one target (a burst from a still camera) and where it is."""

    frames: tuple[Image, ...]
    target: Box
    condition: str


def scene_seed(seed: int, condition_name: str, key: str) -> int:
    """Stable per-scene seed (crc32 is the same on every run, unlike ``hash``)."""
    return zlib.crc32(f"{seed}|{condition_name}|{key}".encode()) & 0x7FFFFFFF


def background(seed: int) -> Image:
    """A plain, face- and plate-free 1080p 'road': grey gradient + smooth texture."""
    rng = np.random.default_rng(seed)
    small = rng.normal(0.0, 18.0, size=(FRAME_H // 16, FRAME_W // 16, 3)).astype(np.float32)
    texture = cv2.resize(small, (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC)
    ramp = np.linspace(150.0, 90.0, FRAME_H, dtype=np.float32)[:, None, None]
    road: Image = np.clip(ramp + texture, 0, 255).astype(np.uint8)
    return road


def place(source: Image, box: Box, width_px: float, rng: np.random.Generator) -> tuple[Image, Box]:
    """Shrink ``source`` so ``box`` is ``width_px`` wide; paste it into a 1080p frame."""
    scale = width_px / max(box.width, 1.0)
    h, w = source.shape[:2]
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(source, (nw, nh), interpolation=cv2.INTER_AREA)
    # keep the target inside the frame even when the shrunk picture is larger than it
    tx1, ty1 = box.x1 * scale, box.y1 * scale
    tw, th = box.width * scale, box.height * scale
    # the target stays EDGE_MARGIN away from the frame's edges: the tilt condition's
    # perspective moves content by up to 7 % of the frame, and earlier it pushed 8 of
    # 50 faces half out of the picture (a cropped face, not a tilted one)
    mx, my = int(EDGE_MARGIN * FRAME_W), int(EDGE_MARGIN * FRAME_H)
    x = int(rng.integers(mx, max(mx + 1, FRAME_W - mx - int(tw)))) - int(tx1)
    y = int(rng.integers(my, max(my + 1, FRAME_H - my - int(th)))) - int(ty1)
    if nw <= FRAME_W:
        x = min(max(x, 0), FRAME_W - nw)
    if nh <= FRAME_H:
        y = min(max(y, 0), FRAME_H - nh)
    frame = background(int(rng.integers(0, 2**31)))
    sx1, sy1 = max(0, -x), max(0, -y)
    dx1, dy1 = max(0, x), max(0, y)
    cw, ch = min(nw - sx1, FRAME_W - dx1), min(nh - sy1, FRAME_H - dy1)
    frame[dy1 : dy1 + ch, dx1 : dx1 + cw] = small[sy1 : sy1 + ch, sx1 : sx1 + cw]
    target = Box(x + tx1, y + ty1, x + tx1 + tw, y + ty1 + th)
    return frame, target


def h264_round_trip(frames: Sequence[Image], crf: int) -> list[Image]:
    """Encode the frames as one H.264 stream (libx264, yuv420p) and decode them again."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = FRAME_W, FRAME_H, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for img in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode(None))
    buf.seek(0)
    with av.open(buf, "r") as inp:
        return [
            np.asarray(f.to_ndarray(format="bgr24"), dtype=np.uint8) for f in inp.decode(video=0)
        ]


def _degrade(
    frame: Image, target: Box, transform: alb.BasicTransform, seed: int
) -> tuple[Image, Box]:
    """Apply one seeded transform; the target box moves with the pixels (tilt)."""
    box = target.clip(FRAME_W, FRAME_H)
    with warnings.catch_warnings():
        # nested Composes (night, tilt) warn that their own parts ignore the boxes
        warnings.simplefilter("ignore", UserWarning)
        pipeline = alb.Compose(
            [transform],
            bbox_params=alb.BboxParams(format="pascal_voc", label_fields=["ids"], clip=True),
            seed=seed,
        )
        res = pipeline(image=frame, bboxes=[[box.x1, box.y1, box.x2, box.y2]], ids=[0])
    moved = [Box(*(float(v) for v in b[:4])) for b in res["bboxes"]]
    return np.ascontiguousarray(res["image"], dtype=np.uint8), moved[0] if moved else box


def render(
    source: Image, box: Box, cond: Condition, key: str, seed: int = 0, frames: int = 1
) -> Scene:
    """The scene of one clean picture under one condition (``frames`` > 1: a burst).

    Burst frames share the placement (a still camera, a slow target) and differ in the
    degradation's random draws (noise, blur length and direction), like consecutive
    frames of a track.
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    s = scene_seed(seed, cond.name, key)
    rng = np.random.default_rng(s)
    width = cond.size_px * (1.0 + rng.uniform(-SIZE_JITTER, SIZE_JITTER))
    frame, target = place(source, box, width, rng)
    out: list[Image] = []
    for k in range(frames):
        img = frame
        if cond.transform is not None:
            img, target = _degrade(frame, target, cond.transform(), s + k)
        out.append(img)
    if cond.h264_crf is not None:
        out = h264_round_trip(out, cond.h264_crf)
    return Scene(tuple(out), target, cond.name)
