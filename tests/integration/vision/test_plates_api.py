"""Plate recogniser contract with the real pack: loading, refusals, configurations."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import pytest

from edge.config import PlateConfig, RuntimeConfig
from edge.errors import InputError, ModelPackError
from edge.modelpack import PackManifest
from edge.vision.plates import PlateRecognizer, load_plate_recognizer
from edge.vision.types import Image

pytestmark = [pytest.mark.models]

TOLL_FRAME = "plates/toll_hyperlpr/toll_004.jpg"  # 1600x1200, 沪B74992


def _toll_frame(eval_dir: Path) -> Image:
    img = cv2.imread(str(eval_dir / TOLL_FRAME), cv2.IMREAD_COLOR)
    assert img is not None
    return cast(Image, img)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((0, 10, 3), dtype=np.uint8),
        np.zeros((10, 10), dtype=np.uint8),
        np.zeros((10, 10, 3), dtype=np.float32),
        np.zeros((10, 10, 4), dtype=np.uint8),
        "not an image",
    ],
)
def test_bad_images_are_refused(plate_recognizer: PlateRecognizer, bad: Any) -> None:
    with pytest.raises(InputError, match="HxWx3 uint8"):
        plate_recognizer.recognize(bad)
    with pytest.raises(InputError, match="HxWx3 uint8"):
        plate_recognizer.reader.read(bad)


def test_blank_frame_has_no_plates(plate_recognizer: PlateRecognizer) -> None:
    assert plate_recognizer.recognize(np.full((1080, 1920, 3), 127, dtype=np.uint8)) == []


def test_plate_fields_on_a_real_frame(plate_recognizer: PlateRecognizer, eval_dir: Path) -> None:
    img = _toll_frame(eval_dir)
    plates = plate_recognizer.recognize(img)
    plate = next(p for p in plates if p.text == "沪B74992")
    assert plate.valid and plate.kind == "regular" and plate.color == "yellow"
    assert 0.6 <= plate.confidence <= 1.0
    box, (tl, tr, br, bl) = plate.detection.box, plate.detection.corners
    assert 0 <= box.x1 < box.x2 <= img.shape[1] and 0 <= box.y1 < box.y2 <= img.shape[0]
    assert tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1] and tr[1] < br[1]
    assert box.width > 2 * box.height  # a single-row plate is wide
    assert not plate.detection.double_row


@pytest.mark.parametrize("detector", ["y5fu_320", "y5fu_640"])
@pytest.mark.parametrize("reader", ["plate_rec_color", "ppocr_v4"])
def test_every_configuration_reads_a_plate(
    models_dir: Path,
    manifest: PackManifest,
    runtime: RuntimeConfig,
    eval_dir: Path,
    detector: str,
    reader: str,
) -> None:
    config = PlateConfig(detector=detector, reader=reader)
    recognizer = load_plate_recognizer(models_dir, config, runtime, manifest)
    texts = [p.text for p in recognizer.recognize(_toll_frame(eval_dir))]
    assert "沪B74992" in texts
    ids = {"y5fu_320": "y5fu_320x", "y5fu_640": "y5fu_640x", "ppocr_v4": "ppocr_v4_rec"}
    assert recognizer.model_ids == (ids[detector], ids.get(reader, reader))


def test_altered_model_file_is_refused(
    tmp_path: Path, models_dir: Path, manifest: PackManifest, runtime: RuntimeConfig
) -> None:
    """A pack whose detector bytes differ from the manifest never reaches onnxruntime."""
    for entry in manifest.models:
        target = tmp_path / entry.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to((models_dir / entry.file).resolve())
    bad = tmp_path / manifest.by_id("y5fu_640x").file
    bad.unlink()
    bad.write_bytes(b"\x00" * manifest.by_id("y5fu_640x").size)
    with pytest.raises(ModelPackError, match="sha256"):
        load_plate_recognizer(tmp_path, PlateConfig(), runtime, manifest)
