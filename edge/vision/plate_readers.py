"""Plate readers (text recognisers) and the plate colour classifier.

Every adapter takes its preprocessing from the manifest's input contract and refuses a
contract it does not implement, so a changed manifest fails at load time instead of
silently producing garbage reads.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.config import PlateConfig, RuntimeConfig
from edge.errors import InputError, ModelPackError
from edge.modelpack import InputContract, ModelEntry, PackManifest
from edge.variants import load_for_runtime
from edge.vision.protocols import PlateColorClassifier, PlateReader
from edge.vision.runtime import create_session
from edge.vision.types import Image, PlateText

log = logging.getLogger(__name__)

Tensor = NDArray[np.float32]

READER_MODEL_IDS: Final = {"plate_rec_color": "plate_rec_color", "ppocr_v4": "ppocr_v4_rec"}
COLOR_MODEL_ID: Final = "litemodel_cls_96x_r1"


@dataclass(frozen=True, slots=True)
class Normalisation:
    """x' = (pixel - mean) / std per channel, in the model's colour order; built once."""

    scale: tuple[float, float, float]  # 1 / std, model channel order
    offset: tuple[float, float, float]  # -mean / std, model channel order
    planes: tuple[int, int, int]  # BGR plane feeding each model channel

    @classmethod
    def from_contract(cls, contract: InputContract) -> Normalisation:
        if contract.layout != "NCHW":
            raise ModelPackError(f"input {contract.name}: layout {contract.layout} unsupported")
        scale = tuple(1.0 / s for s in contract.std)
        offset = tuple(-m / s for m, s in zip(contract.mean, contract.std, strict=True))
        planes = (2, 1, 0) if contract.color == "RGB" else (0, 1, 2)
        return cls(scale=scale, offset=offset, planes=planes)  # type: ignore[arg-type]

    def into(self, image: NDArray[Any], out: Tensor) -> None:
        """Write HxWx3 uint8 BGR ``image`` normalised into ``out`` (3xHxW float32).

        Per contiguous plane, straight into the destination: ~10x faster than
        transposing and converting the whole image in numpy.
        """
        planes = cv2.split(image)
        for ch, src in enumerate(self.planes):
            np.multiply(planes[src], np.float32(self.scale[ch]), out=out[ch], casting="unsafe")
            out[ch] += np.float32(self.offset[ch])

    def chw(self, image: NDArray[Any]) -> Tensor:
        """HxWx3 uint8 BGR -> normalised 3xHxW float32."""
        out = np.empty((3, image.shape[0], image.shape[1]), dtype=np.float32)
        self.into(image, out)
        return out


def check_image(image: Image) -> None:
    """Refuse anything but a non-empty HxWx3 uint8 (BGR) image, naming what came."""
    ok = (
        isinstance(image, np.ndarray)
        and image.ndim == 3
        and image.shape[2] == 3
        and image.dtype == np.uint8
        and image.shape[0] > 0
        and image.shape[1] > 0
    )
    if not ok:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InputError(f"expected a non-empty HxWx3 uint8 BGR image, got {shape} {dtype}")


def require_resize(entry: ModelEntry, *allowed: str) -> None:
    if entry.input.resize not in allowed:
        raise ModelPackError(
            f"model {entry.id}: input resize {entry.input.resize!r} is not supported by this "
            f"adapter (supported: {', '.join(allowed)})"
        )


def ctc_greedy(probs: Tensor, alphabet: str | list[str]) -> tuple[str, float]:
    """Greedy CTC (blank 0) over [T, C] probabilities; confidence = mean kept max-prob."""
    idx = probs.argmax(axis=1)
    best = probs[np.arange(idx.size), idx]
    keep = idx != 0
    keep[1:] &= idx[1:] != idx[:-1]
    if not keep.any():
        return "", 0.0
    text = "".join(alphabet[i] for i in idx[keep])
    return text, float(best[keep].mean())


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    out: Tensor = e / e.sum(axis=axis, keepdims=True)
    return out


class PlateRecColorReader:
    """we0091234 CRNN plate recogniser with a colour head (fixed-size, stretched input)."""

    def __init__(
        self, session: Any, entry: ModelEntry, norm: Normalisation, size: tuple[int, int]
    ) -> None:
        self.session = session
        self.entry = entry
        self.norm = norm
        self.size = size  # (width, height)

    @classmethod
    def create(cls, session: Any, entry: ModelEntry) -> PlateRecColorReader:
        require_resize(entry, "stretch")
        if not entry.alphabet or not entry.labels:
            raise ModelPackError(f"model {entry.id}: manifest entry needs 'alphabet' and 'labels'")
        _, _, h, w = entry.input.shape
        return cls(session, entry, Normalisation.from_contract(entry.input), (w, h))

    @property
    def model_id(self) -> str:
        return self.entry.id

    def read(self, plate: Image) -> PlateText:
        check_image(plate)
        resized = cv2.resize(plate, self.size, interpolation=cv2.INTER_LINEAR)
        blob = self.norm.chw(resized)[None]
        chars, colors = self.session.run(None, {self.entry.input.name: blob})
        text, conf = ctc_greedy(softmax(chars[0]), self.entry.alphabet or "")
        labels = self.entry.labels or []
        color = labels[int(colors[0].argmax())]
        return PlateText(text=text, confidence=conf, color=color)


class LiteColorClassifier:
    """HyperLPR3 plate colour classifier (blue / green / yellow)."""

    def __init__(
        self, session: Any, entry: ModelEntry, norm: Normalisation, size: tuple[int, int]
    ) -> None:
        self.session = session
        self.entry = entry
        self.norm = norm
        self.size = size

    @classmethod
    def create(cls, session: Any, entry: ModelEntry) -> LiteColorClassifier:
        require_resize(entry, "stretch")
        if not entry.labels:
            raise ModelPackError(f"model {entry.id}: manifest entry needs 'labels'")
        _, _, h, w = entry.input.shape
        return cls(session, entry, Normalisation.from_contract(entry.input), (w, h))

    def classify(self, plate: Image) -> str:
        blob = self.norm.chw(cv2.resize(plate, self.size, interpolation=cv2.INTER_LINEAR))[None]
        (probs,) = self.session.run(None, {self.entry.input.name: blob})
        return (self.entry.labels or [])[int(probs[0].argmax())]


class PpOcrReader:
    """PP-OCRv4 text recogniser used as a plate reader (height 48, aspect kept)."""

    def __init__(
        self,
        session: Any,
        entry: ModelEntry,
        norm: Normalisation,
        alphabet: list[str],
        min_width: int,
        color: PlateColorClassifier | None = None,
    ) -> None:
        self.session = session
        self.entry = entry
        self.norm = norm
        self.alphabet = alphabet
        self.min_width = min_width
        self.color = color

    @classmethod
    def create(
        cls, session: Any, entry: ModelEntry, color: PlateColorClassifier | None = None
    ) -> PpOcrReader:
        resize = re.fullmatch(
            r"height_(\d+)_keep_aspect_right_pad_min_width_(\d+)", entry.input.resize
        )
        if resize is None or int(resize[1]) != entry.input.shape[2]:
            raise ModelPackError(
                f"model {entry.id}: input resize {entry.input.resize!r} is not supported "
                "(expected height_<H>_keep_aspect_right_pad_min_width_<W> with H = input height)"
            )
        if entry.input.pad_space != "normalised":
            raise ModelPackError(
                f"model {entry.id}: this reader pads the normalised tensor (as PaddleOCR "
                f"does); the manifest says pad_space {entry.input.pad_space!r}"
            )
        meta = session.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ModelPackError(f"model {entry.id}: no 'character' key in the model metadata")
        # index 0 is the CTC blank; PaddleOCR appends a space as the last class
        alphabet = ["", *meta["character"].splitlines(), " "]
        n_classes = entry.outputs[0].shape[-1]
        if n_classes != -1 and n_classes != len(alphabet):
            raise ModelPackError(
                f"model {entry.id}: {len(alphabet)} characters in metadata, "
                f"{n_classes} output classes"
            )
        norm = Normalisation.from_contract(entry.input)
        return cls(session, entry, norm, alphabet, int(resize[2]), color)

    @property
    def model_id(self) -> str:
        return self.entry.id

    def _blob(self, plate: Image) -> Tensor:
        # pad_space "normalised" (checked in create): pad_value goes into the normalised
        # tensor, as PaddleOCR pads (pixel-0 padding cost 10 of 285 exact reads here)
        h_in = self.entry.input.shape[2]
        h, w = plate.shape[:2]
        new_w = max(1, math.ceil(h_in * w / max(h, 1)))
        width = max(self.min_width, new_w)
        resized = cv2.resize(plate, (new_w, h_in), interpolation=cv2.INTER_LINEAR)
        blob = np.full((1, 3, h_in, width), self.entry.input.pad_value, dtype=np.float32)
        self.norm.into(resized, blob[0, :, :, :new_w])
        return blob

    def read(self, plate: Image) -> PlateText:
        check_image(plate)
        (probs,) = self.session.run(None, {self.entry.input.name: self._blob(plate)})
        text, conf = ctc_greedy(probs[0], self.alphabet)
        color = self.color.classify(plate) if self.color is not None else None
        return PlateText(text=text, confidence=conf, color=color)


def load_plate_reader(
    pack_dir: Path, config: PlateConfig, runtime: RuntimeConfig, manifest: PackManifest
) -> PlateReader:
    """Load the configured reader from verified model bytes (no warm-up here)."""
    entry = manifest.by_id(READER_MODEL_IDS[config.reader])
    session = create_session(load_for_runtime(pack_dir, entry, runtime), runtime)
    if config.reader == "plate_rec_color":
        return PlateRecColorReader.create(session, entry)
    color_entry = manifest.by_id(COLOR_MODEL_ID)
    color = LiteColorClassifier.create(
        create_session(load_for_runtime(pack_dir, color_entry, runtime), runtime), color_entry
    )
    return PpOcrReader.create(session, entry, color)
