"""Faces: SCRFD detection, 5-point alignment, ONNX embedding and the analyzer tying them.

Vendor code (insightface's SCRFD post-processing and ``norm_crop``) lives only in this
adapter; it always runs on our own onnxruntime session built from verified bytes, so
insightface never opens a model file itself.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from insightface.model_zoo.scrfd import SCRFD
from insightface.utils import face_align

from edge.config import FaceConfig, RuntimeConfig
from edge.errors import InputError, ModelPackError
from edge.modelpack import ModelEntry, PackManifest, VerifiedModel
from edge.variants import load_for_runtime
from edge.vision.face_light import lift_dark
from edge.vision.face_quality import face_quality
from edge.vision.protocols import FaceDetector, FaceEmbedder
from edge.vision.regions import detect_in_regions
from edge.vision.runtime import create_session
from edge.vision.tiles import TiledFaceDetector
from edge.vision.types import Box, Face, FaceDetection, FaceEmbedding, FaceQuality, Image, Point

log = logging.getLogger(__name__)

DETECTOR_MODEL_IDS: dict[str, str] = {
    "scrfd_500m": "scrfd_500m_bnkps",
    "scrfd_2.5g": "scrfd_2.5g_bnkps",
}
#: insightface runs SCRFD at 128 and 640 and merges the boxes: the 640 pass alone
#: misses very large close-up faces. ``FaceConfig.det_size`` replaces the 640.
SMALL_DET_SIZE = 128
#: input side for regions around faces seen on a smaller picture (edge.vision.regions):
#: a ~100 px face in its 250 px region reaches the detector at ~77 px
REGION_DET_SIZE = 192
NMS_IOU = 0.4  # insightface's default for SCRFD
ALIGNED_SIZE = 112
#: what insightface's SCRFD feeds the network; the manifest must agree
_SCRFD_CONTRACT = ("NCHW", "RGB", (127.5, 127.5, 127.5), (128.0, 128.0, 128.0))


def _check_image(image: Image) -> None:
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3):
        shape = getattr(image, "shape", None)
        raise InputError(f"expected an HxWx3 BGR image, got shape {shape}")
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 image, got {image.dtype}")


class ScrfdFaceDetector:
    """FaceDetector over insightface's SCRFD post-processing (boxes, scores, 5 points)."""

    def __init__(
        self, model: Any, model_id: str, threshold: float, sizes: Sequence[tuple[int, int]]
    ) -> None:
        self._model = model
        self._model_id = model_id
        self._threshold = threshold
        self._sizes = list(sizes)

    @property
    def model_id(self) -> str:
        return self._model_id

    def at_sizes(self, sizes: Sequence[tuple[int, int]]) -> ScrfdFaceDetector:
        """The same network and threshold at other input sizes (shares the session)."""
        return ScrfdFaceDetector(self._model, self._model_id, self._threshold, sizes)

    def detect(self, image: Image) -> list[FaceDetection]:
        _check_image(image)
        # the 128 px pass (large close-ups) stays square: it costs ~0.6 ms either way
        sizes = self._sizes[:1] + fitted_sizes(self._sizes[1:], image.shape[1], image.shape[0])
        det, kps = self._model.detect(image, input_size=sizes, det_thresh=self._threshold)
        if kps is None:
            raise ModelPackError(f"face detector {self._model_id!r} returned no landmarks")
        out = []
        for row, points in zip(det, kps, strict=True):
            x1, y1, x2, y2, score = (float(v) for v in row)
            marks: list[Point] = [(float(x), float(y)) for x, y in points]
            out.append(
                FaceDetection(
                    box=Box(x1, y1, x2, y2),
                    score=score,
                    landmarks=(marks[0], marks[1], marks[2], marks[3], marks[4]),
                )
            )
        return out


def fitted_sizes(
    sizes: Sequence[tuple[int, int]], width: int, height: int
) -> list[tuple[int, int]]:
    """Each square detector input cut to the picture's aspect (rounded up to SCRFD's
    stride of 32). SCRFD letterboxes the picture at the same scale either way, so the
    faces it sees are identical; a 16:9 frame then costs 640x384 instead of 640x640:
    measured 8.0 ms instead of 16.5 ms per 1080p frame on one core."""
    out = []
    for w, h in sizes:
        if width >= height:
            out.append((w, min(h, -(-round(w * height / width) // 32) * 32)))
        else:
            out.append((min(w, -(-round(h * width / height) // 32) * 32), h))
    return out


def _entry(manifest: PackManifest, model_id: str, role: str) -> ModelEntry:
    entry = manifest.by_id(model_id)
    if entry.role != role:
        raise ModelPackError(f"model {model_id!r} is a {entry.role}, expected a {role}")
    return entry


def load_scrfd_detector(
    pack_dir: Path, config: FaceConfig, runtime: RuntimeConfig, manifest: PackManifest
) -> ScrfdFaceDetector:
    """Verify the configured SCRFD file and wrap it; no file is read twice."""
    entry = _entry(manifest, DETECTOR_MODEL_IDS[config.detector], "face_detector")
    inp = entry.input
    if (inp.layout, inp.color, tuple(inp.mean), tuple(inp.std)) != _SCRFD_CONTRACT:
        raise ModelPackError(
            f"model {entry.id!r}: input contract {inp.layout} {inp.color} mean {inp.mean} "
            f"std {inp.std} is not SCRFD's (NCHW RGB mean 127.5 std 128)"
        )
    session = create_session(load_for_runtime(pack_dir, entry, runtime), runtime)
    # model_file=None: insightface must not reopen (unverified) bytes from disk to
    # build per-size sessions; the dynamic-shape session serves every size.
    model = SCRFD(model_file=None, session=session)
    if not model.use_kps:
        raise ModelPackError(f"model {entry.id!r} has no landmark outputs; alignment needs them")
    model.nms_thresh = NMS_IOU
    sizes = [(SMALL_DET_SIZE, SMALL_DET_SIZE), (config.det_size, config.det_size)]
    # one pass finds faint faces too: they are blurred, only confident ones recognised
    return ScrfdFaceDetector(model, entry.id, config.redact_threshold, sizes)


def align_face(image: Image, landmarks: Sequence[Point]) -> Image:
    """Warp a face to the 112x112 ArcFace template with its five landmarks."""
    points = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    with warnings.catch_warnings():
        # scikit-image deprecates the estimate() call insightface uses; harmless here
        warnings.simplefilter("ignore", FutureWarning)
        crop = face_align.norm_crop(image, points, image_size=ALIGNED_SIZE)
    return np.ascontiguousarray(crop, dtype=np.uint8)


class OnnxFaceEmbedder:
    """FaceEmbedder for ArcFace-family ONNX models; preprocessing from the manifest.

    Two input options (``FaceConfig``): dark crops are contrast-stretched first
    (``stretch_dark_below``, see ``face_light``), and ``flip_average`` embeds each crop
    and its mirror and averages the two unit vectors (twice the network runs).
    """

    def __init__(
        self,
        session: Any,
        entry: ModelEntry,
        dim: int,
        batched: bool,
        *,
        stretch_dark_below: float = 0.0,
        flip_average: bool = False,
    ) -> None:
        self._session = session
        self._entry = entry
        self._dim = dim
        self._batched = batched
        self._input_name: str = entry.input.name
        self._output_name: str = entry.outputs[0].name
        self._stretch_dark_below = stretch_dark_below
        self._flip_average = flip_average

    @property
    def model_id(self) -> str:
        return self._entry.id

    @property
    def dim(self) -> int:
        return self._dim

    def _blob(self, aligned: Sequence[Image]) -> np.ndarray:
        for crop in aligned:
            if crop.shape != (ALIGNED_SIZE, ALIGNED_SIZE, 3) or crop.dtype != np.uint8:
                raise InputError(
                    f"aligned faces must be {ALIGNED_SIZE}x{ALIGNED_SIZE}x3 uint8, "
                    f"got {crop.shape} {crop.dtype}"
                )
        if self._stretch_dark_below > 0.0:
            aligned = [lift_dark(c, self._stretch_dark_below) for c in aligned]
        inp = self._entry.input
        std = np.asarray(inp.std, dtype=np.float32)
        # one C++ pass: colour swap, mean subtraction, scaling and NCHW packing
        blob = cv2.dnn.blobFromImages(
            list(aligned),
            scalefactor=1.0 / float(std[0]),
            size=(ALIGNED_SIZE, ALIGNED_SIZE),
            mean=tuple(float(m) for m in inp.mean),
            swapRB=inp.color == "RGB",
            crop=False,
        )
        if not np.all(std == std[0]):
            blob *= (std[0] / std).reshape(1, 3, 1, 1)
        return np.ascontiguousarray(blob, dtype=np.float32)

    def _run(self, blob: np.ndarray) -> np.ndarray:
        """Unit-length network outputs, one row per crop of the blob."""
        n = blob.shape[0]
        if self._batched:
            out = np.asarray(
                self._session.run([self._output_name], {self._input_name: blob})[0],
                dtype=np.float32,
            ).reshape(n, -1)
        else:
            # the graph fixes batch 1 (the pack's MobileFaceNet reshapes to [1, -1]);
            # crops run back to back on the one session, into one output array
            out = np.empty((n, self._dim), dtype=np.float32)
            for i in range(n):
                res = self._session.run([self._output_name], {self._input_name: blob[i : i + 1]})
                out[i] = res[0].reshape(-1)
        return unit_rows(out)

    def embed(self, aligned: Sequence[Image]) -> list[FaceEmbedding]:
        """One L2-normalised float32 vector per aligned crop, in order."""
        if len(aligned) == 0:
            return []
        blob = self._blob(aligned)
        out = self._run(blob)
        if self._flip_average:
            # NCHW: reversing W mirrors every crop, no second preprocessing pass
            out = unit_rows(out + self._run(np.ascontiguousarray(blob[:, :, :, ::-1])))
        out.setflags(write=False)
        return [FaceEmbedding(vector=out[i], model_id=self.model_id) for i in range(len(out))]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to unit L2 length (an all-zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def load_onnx_embedder(
    model: VerifiedModel, runtime: RuntimeConfig, config: FaceConfig | None = None
) -> OnnxFaceEmbedder:
    """Create the session; the embedding size and batch support come from the graph."""
    entry = model.entry
    if entry.role != "face_embedder":
        raise ModelPackError(f"model {entry.id!r} is a {entry.role}, expected a face_embedder")
    if entry.input.layout != "NCHW" or entry.input.shape[1:] != [3, ALIGNED_SIZE, ALIGNED_SIZE]:
        raise ModelPackError(
            f"model {entry.id!r}: input {entry.input.layout} {entry.input.shape} is not an "
            f"aligned {ALIGNED_SIZE}x{ALIGNED_SIZE} NCHW face"
        )
    return embedder_from_session(create_session(model, runtime), entry, config)


def embedder_from_session(
    session: Any, entry: ModelEntry, config: FaceConfig | None = None
) -> OnnxFaceEmbedder:
    """Wrap a checked session (quantization calibration wraps it to record its inputs).

    ``config`` None: the raw network (no dark stretch, no flip), e.g. for calibration.
    """
    batch_dim = session.get_inputs()[0].shape[0]
    batched = not (isinstance(batch_dim, int) and batch_dim == 1)
    dim = session.get_outputs()[0].shape[-1]
    if not isinstance(dim, int) or dim <= 0:
        probe = np.zeros((1, 3, ALIGNED_SIZE, ALIGNED_SIZE), dtype=np.float32)
        dim = int(session.run(None, {entry.input.name: probe})[0].reshape(-1).shape[0])
    if config is None:
        return OnnxFaceEmbedder(session, entry, int(dim), batched)
    return OnnxFaceEmbedder(
        session,
        entry,
        int(dim),
        batched,
        stretch_dark_below=config.stretch_dark_below,
        flip_average=config.flip_average,
    )


class FaceAnalyzer:
    """Detect, quality-gate, align and embed the faces of one frame.

    Every detected face is returned, including those below the quality gate, because
    the privacy filter must blur all of them; only faces passing the gate
    (``min_face_px`` and ``min_quality``) are embedded, in one call.
    """

    def __init__(
        self,
        detector: FaceDetector,
        embedder: FaceEmbedder,
        config: FaceConfig,
        region_detector: FaceDetector | None = None,
    ) -> None:
        self._detector = detector
        self._embedder = embedder
        self._config = config
        #: the detector at a small input size, for regions around faces seen elsewhere
        self._region_detector = region_detector or detector

    @property
    def embedder(self) -> FaceEmbedder:
        return self._embedder

    @property
    def model_id(self) -> str:
        """The embedder's model id: templates must have been built with it."""
        return self._embedder.model_id

    def detect(self, image: Image) -> list[FaceDetection]:
        """Faces confident enough to be recognised (score >= det_threshold)."""
        return self.detect_all(image)[0]

    def detect_all(self, image: Image) -> tuple[list[FaceDetection], list[FaceDetection]]:
        """(faces to recognise, faint faces only to be blurred) from one detector pass."""
        confident: list[FaceDetection] = []
        faint: list[FaceDetection] = []
        for d in self._detector.detect(image):
            (confident if d.score >= self._config.det_threshold else faint).append(d)
        return confident, faint

    def detect_regions(
        self, image: Image, regions: Sequence[Box]
    ) -> tuple[list[FaceDetection], list[FaceDetection]]:
        """``detect_all`` on square regions of ``image`` only (e.g. around faces that a
        smaller picture of the same view showed), in ``image`` coordinates."""
        confident: list[FaceDetection] = []
        faint: list[FaceDetection] = []
        for d in detect_in_regions(self._region_detector.detect, image, regions):
            (confident if d.score >= self._config.det_threshold else faint).append(d)
        return confident, faint

    def usable(self, quality: FaceQuality) -> bool:
        """Whether a face is good enough to be embedded and matched."""
        return (
            quality.size >= self._config.min_face_px and quality.score >= self._config.min_quality
        )

    def analyze(self, image: Image, embed: bool = True) -> list[Face]:
        detections = self.detect(image)
        aligned = [align_face(image, d.landmarks) for d in detections]
        qualities = [face_quality(image, d, a) for d, a in zip(detections, aligned, strict=True)]
        chosen = [i for i, q in enumerate(qualities) if self.usable(q)] if embed else []
        vectors = self._embedder.embed([aligned[i] for i in chosen])
        embeddings: dict[int, FaceEmbedding] = dict(zip(chosen, vectors, strict=True))
        return [
            Face(detection=d, quality=q, embedding=embeddings.get(i))
            for i, (d, q) in enumerate(zip(detections, qualities, strict=True))
        ]

    def embed_faces(self, image: Image, detections: Sequence[FaceDetection]) -> list[Face]:
        """Embed chosen detections (e.g. a tracker's best shots) without the quality gate."""
        _check_image(image)
        aligned = [align_face(image, d.landmarks) for d in detections]
        vectors = self._embedder.embed(aligned)
        return [
            Face(detection=d, quality=face_quality(image, d, a), embedding=v)
            for d, a, v in zip(detections, aligned, vectors, strict=True)
        ]


def load_face_analyzer(
    pack_dir: Path, config: FaceConfig, runtime: RuntimeConfig, manifest: PackManifest
) -> FaceAnalyzer:
    """Load and verify the configured detector and embedder, then warm both up once."""
    scrfd = load_scrfd_detector(pack_dir, config, runtime, manifest)
    detector: FaceDetector = scrfd
    if config.tiles.enabled:
        # tiles look for small faces: the 128 px pass (large close-ups) stays full-frame
        tile_pass = scrfd.at_sizes([(config.det_size, config.det_size)])
        detector = TiledFaceDetector(scrfd, config.tiles, tile_pass)
    entry = _entry(manifest, config.embedder, "face_embedder")
    embedder = load_onnx_embedder(load_for_runtime(pack_dir, entry, runtime), runtime, config)
    # first runs allocate onnxruntime's buffers; pay that at start, not on the first face
    detector.detect(np.zeros((config.det_size, config.det_size, 3), dtype=np.uint8))
    embedder.embed([np.zeros((ALIGNED_SIZE, ALIGNED_SIZE, 3), dtype=np.uint8)])
    log.info(
        "face models loaded",
        extra={"detector": scrfd.model_id, "embedder": embedder.model_id, "dim": embedder.dim},
    )
    regions = scrfd.at_sizes([(REGION_DET_SIZE, REGION_DET_SIZE)])
    return FaceAnalyzer(detector, embedder, config, regions)
