"""Behaviour of the face adapters on the real pack: sizes, batching, gating, errors."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pytest
from insightface.model_zoo.scrfd import SCRFD

from edge.config import FaceConfig, ImageLimits, RuntimeConfig
from edge.errors import InputError, ModelPackError
from edge.imageio import load_image
from edge.modelpack import PackManifest, load_verified
from edge.vision.faces import (
    ALIGNED_SIZE,
    FaceAnalyzer,
    ScrfdFaceDetector,
    align_face,
    load_face_analyzer,
    load_onnx_embedder,
)
from edge.vision.runtime import create_session
from edge.vision.types import Image

GROUP = "privacy/group_insightface_t1.jpg"


def _u8(array: np.ndarray) -> Image:
    return np.ascontiguousarray(array, dtype=np.uint8)


@pytest.fixture(scope="module")
def group(eval_dir: Path) -> Image:
    return load_image(eval_dir / GROUP, ImageLimits()).image


def test_embedding_size_comes_from_the_model(face_analyzer: FaceAnalyzer) -> None:
    assert face_analyzer.model_id == "mobilefacenet_128"
    assert face_analyzer.embedder.dim == 128


def test_faces_are_aligned_embedded_and_normalised(
    face_analyzer: FaceAnalyzer, group: Image
) -> None:
    faces = face_analyzer.analyze(group)
    assert len(faces) == 6
    for face in faces:
        assert face.embedding is not None
        vec = face.embedding.vector
        assert vec.shape == (128,) and vec.dtype == np.float32
        assert float(np.linalg.norm(vec)) == pytest.approx(1.0, abs=1e-5)
        assert 0.0 <= face.quality.score <= 1.0
    # six different people: no two embeddings of the group photo look alike
    matrix = np.stack([f.embedding.vector for f in faces if f.embedding is not None])
    sims = matrix @ matrix.T
    assert float(np.max(sims - np.eye(6) * 2)) < 0.48


def test_batch_embedding_equals_one_by_one(face_analyzer: FaceAnalyzer, group: Image) -> None:
    crops = [align_face(group, d.landmarks) for d in face_analyzer.detect(group)]
    assert all(c.shape == (ALIGNED_SIZE, ALIGNED_SIZE, 3) for c in crops)
    together = face_analyzer.embedder.embed(crops)
    for crop, emb in zip(crops, together, strict=True):
        (alone,) = face_analyzer.embedder.embed([crop])
        np.testing.assert_allclose(alone.vector, emb.vector, atol=1e-5)
    assert face_analyzer.embedder.embed([]) == []


def test_embed_without_embedding_still_reports_every_face(
    face_analyzer: FaceAnalyzer, group: Image
) -> None:
    faces = face_analyzer.analyze(group, embed=False)
    assert len(faces) == 6 and all(f.embedding is None for f in faces)


def test_small_faces_are_returned_for_blurring_but_not_embedded(
    models_dir: Path, runtime: RuntimeConfig, manifest: PackManifest, group: Image
) -> None:
    # at a quarter of the size the faces are ~25 px: below a 30 px gate
    small = _u8(cv2.resize(group, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA))
    strict = load_face_analyzer(models_dir, FaceConfig(min_face_px=30), runtime, manifest)
    faces = strict.analyze(small)
    assert len(faces) >= 4
    assert all(f.quality.size < 30 for f in faces)
    assert all(f.embedding is None for f in faces)
    # a tracker can still ask for chosen detections explicitly
    chosen = strict.embed_faces(small, [faces[0].detection])
    assert chosen[0].embedding is not None


def test_very_large_close_up_face_is_found(
    face_analyzer: FaceAnalyzer,
    group: Image,
    models_dir: Path,
    runtime: RuntimeConfig,
    manifest: PackManifest,
) -> None:
    # one face filling a 1000 px frame: a 640-only detector misses it, the 128 pass of
    # insightface's default multi-size detection finds it
    d = face_analyzer.detect(group)[0].box.expand(1.2).clip(group.shape[1], group.shape[0])
    crop = group[int(d.y1) : int(d.y2), int(d.x1) : int(d.x2)]
    close_up = _u8(cv2.resize(crop, (1000, int(1000 * crop.shape[0] / crop.shape[1]))))
    faces = face_analyzer.analyze(close_up)
    assert len(faces) == 1
    assert faces[0].quality.size > 400
    assert faces[0].embedding is not None
    session = create_session(load_verified(models_dir, manifest.by_id("scrfd_500m_bnkps")), runtime)
    only_640 = ScrfdFaceDetector(SCRFD(session=session), "scrfd_500m_bnkps", 0.5, [(640, 640)])
    assert only_640.detect(close_up) == []


def test_blur_lowers_quality(face_analyzer: FaceAnalyzer, group: Image) -> None:
    sharp = face_analyzer.analyze(group, embed=False)
    blurred = face_analyzer.analyze(_u8(cv2.GaussianBlur(group, (0, 0), 4)), embed=False)
    assert len(blurred) >= 1
    assert max(f.quality.sharpness for f in blurred) < min(f.quality.sharpness for f in sharp)


def test_rejects_non_images(face_analyzer: FaceAnalyzer, group: Image) -> None:
    with pytest.raises(InputError, match="HxWx3"):
        face_analyzer.analyze(_u8(cv2.cvtColor(group, cv2.COLOR_BGR2GRAY)))
    with pytest.raises(InputError, match="uint8"):
        face_analyzer.analyze(cast(Image, group.astype(np.float32)))
    with pytest.raises(InputError, match="aligned faces"):
        face_analyzer.embedder.embed([group])


def test_config_errors_name_the_model(
    models_dir: Path, runtime: RuntimeConfig, manifest: PackManifest
) -> None:
    with pytest.raises(ModelPackError, match="no_such_embedder"):
        load_face_analyzer(models_dir, FaceConfig(embedder="no_such_embedder"), runtime, manifest)
    with pytest.raises(ModelPackError, match="expected a face_embedder"):
        load_face_analyzer(models_dir, FaceConfig(embedder="scrfd_500m_bnkps"), runtime, manifest)
    wrong_role = load_verified(models_dir, manifest.by_id("y5fu_320x"))
    with pytest.raises(ModelPackError, match="expected a face_embedder"):
        load_onnx_embedder(wrong_role, runtime)


def test_accurate_detector_loads_and_agrees(
    models_dir: Path, runtime: RuntimeConfig, manifest: PackManifest, group: Image
) -> None:
    accurate = load_face_analyzer(models_dir, FaceConfig(detector="scrfd_2.5g"), runtime, manifest)
    assert len(accurate.detect(group)) == 6
