"""How usable a detected face is for recognition (pure numpy/OpenCV, no models).

Four cues, each mapped to [0, 1], combined by a geometric mean so that any one very
bad cue (a profile, a blurred crop, a tiny face) pulls the score down on its own:

- size: shorter side of the detector box; the embedder works at 112 px, and faces
  under ~20 px carry little identity.
- detector score: SCRFD's confidence (0.5 = threshold, >= 0.8 typical for clear faces).
- sharpness: variance of the Laplacian of the aligned 112x112 crop. On the evaluation
  photos sharp faces measure 500-3800 (5th percentile ~510), the same faces blurred
  (Gaussian sigma 2 at crop scale) 15-45; the log-scale ramp runs from 20 to 400.
- frontal: symmetry of the five landmarks. The nose projected onto the eye axis sits
  near the middle of the eyes (0.32-0.68 for 90 % of evaluation faces) and between
  the eyes and the mouth vertically (0.40-0.69); a turned or tilted head moves it
  towards one end.

A face cut by the image border also scores lower (its landmarks are guesses).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.vision.types import FaceDetection, FaceQuality, Image

SIZE_GOOD_PX = 80.0
SIZE_MIN_PX = 12.0
DET_SCORE_LOW = 0.3
DET_SCORE_GOOD = 0.8
SHARP_LOW = 20.0
SHARP_GOOD = 400.0
_EPS = 1e-6


def _ramp(value: float, low: float, high: float) -> float:
    return min(1.0, max(0.0, (value - low) / (high - low)))


def sharpness(aligned: Image) -> float:
    """Variance of the Laplacian of the grey aligned crop (higher = sharper)."""
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def frontal_score(detection: FaceDetection) -> float:
    """1.0 for a frontal face, towards 0.0 for a profile or a steep pitch."""
    le, re, nose, lm, rm = (np.asarray(p, dtype=np.float64) for p in detection.landmarks)
    eye_axis = re - le
    eye_dist = float(np.linalg.norm(eye_axis))
    if eye_dist < _EPS:
        return 0.0
    u = eye_axis / eye_dist
    perp = np.array([-u[1], u[0]])
    # yaw: where the nose falls between the eyes (0.5 = centred)
    t = float((nose - le) @ u) / eye_dist
    yaw = _ramp(1.0 - 2.0 * abs(t - 0.5), 0.0, 0.6)
    # pitch: where the nose falls between the eye line and the mouth line
    eye_mid = (le + re) / 2.0
    mouth_depth = float(((lm + rm) / 2.0 - eye_mid) @ perp)
    if mouth_depth < _EPS:
        return 0.0  # mouth above the eyes: landmarks are not a usable face
    v = float((nose - eye_mid) @ perp) / mouth_depth
    pitch = _ramp(1.0 - 2.0 * abs(v - 0.55), 0.0, 0.5)
    return yaw * pitch


def _visible_fraction(image: Image, detection: FaceDetection) -> float:
    box = detection.box
    if box.area <= 0:
        return 0.0
    h, w = image.shape[:2]
    return box.clip(w, h).area / box.area


def face_quality(image: Image, detection: FaceDetection, aligned: Image) -> FaceQuality:
    """Quality of one face: ``image`` is the frame, ``aligned`` its 112x112 crop."""
    size = min(detection.box.width, detection.box.height)
    sharp = sharpness(aligned)
    frontal = frontal_score(detection)
    cues = (
        _ramp(size, SIZE_MIN_PX, SIZE_GOOD_PX),
        _ramp(detection.score, DET_SCORE_LOW, DET_SCORE_GOOD),
        _ramp(math.log(max(sharp, _EPS)), math.log(SHARP_LOW), math.log(SHARP_GOOD)),
        frontal,
        _visible_fraction(image, detection),
    )
    score = math.prod(cues) ** (1.0 / len(cues))
    return FaceQuality(score=float(score), size=float(size), sharpness=sharp, frontal=frontal)
