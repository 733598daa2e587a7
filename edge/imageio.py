"""Robust still-image loading for every input path (CLI, enrolment, drop folders).

Pillow is the one decoder: it reads the header before any pixel (so size limits are
checked before a decompression bomb is expanded), it refuses truncated files instead
of returning half-grey pictures, it decodes CMYK, 16-bit and palette images, and it
stays quiet on stderr (libpng/libjpeg through OpenCV print their own warnings).
Files are read as bytes, so any file name (Chinese included) works.

EXIF orientation is read from the header and applied here, exactly once, on the
decoded array; nothing else in the decode path rotates.
"""

from __future__ import annotations

import io
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from edge.config import ImageLimits
from edge.errors import ImageDecodeError, ImageTooLargeError, InputError
from edge.vision.types import Image

log = logging.getLogger(__name__)

#: Pillow format names we accept (MPO is a JPEG with extra frames, from phones)
ALLOWED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "BMP": "BMP", "WEBP": "WebP"}
ALLOWED_FORMATS["TIFF"] = "TIFF"
ALLOWED_TEXT = "JPEG, PNG, BMP, WebP, TIFF"
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".webp", ".tif", ".tiff"}
)
#: formats that can be decoded straight to a reduced size (JPEG DCT scaling, up to 1/8
#: per side); any other format must be decoded at full size before downscaling, which
#: we only allow up to this multiple of the pixel limit
_FULL_DECODE_FACTOR = 2
_REDUCIBLE = {"JPEG", "MPO"}
_EXIF_ORIENTATION = 0x0112
#: no face or plate fits in a thinner picture, and detectors that letterbox to a square
#: input cannot even resize a strip more elongated than this
MIN_SIDE = 8
MAX_ASPECT = 20


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """A decoded image, upright (EXIF applied), BGR uint8 HxWx3."""

    image: Image
    width: int
    height: int
    warnings: tuple[str, ...] = ()


def load_image(path: Path, limits: ImageLimits) -> LoadedImage:
    """Decode one image file; every failure is an InputError naming the file."""
    data = _read_bytes(path)
    if not data:
        raise ImageDecodeError(f"{path}: file is empty (allowed: {ALLOWED_TEXT} images)")
    return decode_image(data, str(path), limits)


def decode_image(data: bytes, name: str, limits: ImageLimits) -> LoadedImage:
    """Decode image bytes; ``name`` is only used in messages."""
    notes: list[str] = []
    with warnings.catch_warnings():
        # we enforce our own limit below; Pillow's bomb warning would only be noise
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        pil = _open(data, name)
        orientation = _orientation(pil)
        pil = _reduce_if_needed(pil, name, limits, notes)
        try:
            pil.load()
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageDecodeError(
                f"{name}: {ALLOWED_FORMATS[str(pil.format)]} data is truncated or corrupt ({e})"
            ) from None
        bgr = _to_bgr(pil, name)
    bgr = apply_orientation(bgr, orientation)
    bgr = _downscale(bgr, limits.max_pixels)
    if notes:
        log.info("image downscaled", extra={"pixels": bgr.shape[0] * bgr.shape[1]})
    height, width = bgr.shape[:2]
    return LoadedImage(image=bgr, width=width, height=height, warnings=tuple(notes))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not an image file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or e})") from None


def _open(data: bytes, name: str) -> PILImage.Image:
    try:
        pil = PILImage.open(io.BytesIO(data))
    except PILImage.DecompressionBombError:
        raise ImageTooLargeError(
            f"{name}: image dimensions are far beyond any camera picture (decompression bomb?); "
            "refused without decoding"
        ) from None
    except UnidentifiedImageError:
        raise ImageDecodeError(f"{name}: not a readable image (allowed: {ALLOWED_TEXT})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageDecodeError(
            f"{name}: corrupt image header ({e}); allowed: {ALLOWED_TEXT}"
        ) from None
    if pil.format not in ALLOWED_FORMATS:
        raise ImageDecodeError(
            f"{name}: {pil.format} images are not supported (allowed: {ALLOWED_TEXT})"
        )
    width, height = pil.size
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"{name}: image has no pixels ({width}x{height})")
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_ASPECT * min(width, height):
        raise InputError(
            f"{name}: a {width}x{height} image cannot be analysed (allowed: sides of at "
            f"least {MIN_SIDE} px, the longer at most {MAX_ASPECT} times the shorter)"
        )
    return pil


def _orientation(pil: PILImage.Image) -> int:
    try:
        value = pil.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block must not make a good picture unreadable
        log.info("unreadable EXIF block ignored")
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _reduce_if_needed(
    pil: PILImage.Image, name: str, limits: ImageLimits, notes: list[str]
) -> PILImage.Image:
    width, height = pil.size
    pixels = width * height
    if pixels <= limits.max_pixels:
        return pil
    limit_text = (
        f"{width}x{height} = {pixels / 1e6:.1f} MP, limit is {limits.max_pixels / 1e6:.1f} MP"
    )
    if not limits.downscale_oversized:
        raise ImageTooLargeError(
            f"{name}: image too large ({limit_text}); resize it or set images.downscale_oversized"
        )
    fmt = str(pil.format)
    if fmt in _REDUCIBLE:
        scale = math.sqrt(limits.max_pixels / pixels)
        # draft() picks the largest DCT reduction that keeps at least this size
        pil.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
        reduced = pil.size[0] * pil.size[1]
        if reduced > _FULL_DECODE_FACTOR * limits.max_pixels:
            raise ImageTooLargeError(f"{name}: image too large to decode safely ({limit_text})")
    elif pixels > _FULL_DECODE_FACTOR * limits.max_pixels:
        raise ImageTooLargeError(
            f"{name}: image too large to decode safely ({limit_text}; a {ALLOWED_FORMATS[fmt]} "
            f"can be downscaled up to {_FULL_DECODE_FACTOR * limits.max_pixels / 1e6:.0f} MP)"
        )
    notes.append(f"{name}: downscaled, {limit_text}")
    return pil


def _to_bgr(pil: PILImage.Image, name: str) -> Image:
    mode = pil.mode
    if mode.startswith("I") or mode == "F":
        return _gray_to_bgr(_scale_to_8bit(np.asarray(pil)))
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in pil.info):
        rgba = np.asarray(pil.convert("RGBA"))
        return _composite_on_white(rgba)
    if mode == "L":
        return _gray_to_bgr(np.asarray(pil))
    # RGB, CMYK (Adobe inversion handled by Pillow), YCbCr, P, 1, LAB, HSV...
    try:
        rgb = np.asarray(pil.convert("RGB"))
    except (OSError, ValueError) as e:
        raise ImageDecodeError(f"{name}: unsupported colour mode {mode} ({e})") from None
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _scale_to_8bit(arr: NDArray[np.generic]) -> NDArray[np.uint8]:
    if arr.dtype == np.uint8:
        return arr.astype(np.uint8)
    values = arr.astype(np.float64)
    if arr.dtype.kind == "f":
        top = 1.0 if float(values.max(initial=0.0)) <= 1.0 else 255.0
        values = values * (255.0 / top)
    else:
        # 16-bit samples (also Pillow's 32-bit "I" mode holding 16-bit data)
        values = values / 257.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _gray_to_bgr(gray: NDArray[np.uint8]) -> Image:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _composite_on_white(rgba: NDArray[np.uint8]) -> Image:
    """Transparent pixels become white, the usual background of a cut-out photo."""
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = rgba[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    out = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out[:, :, ::-1])


_ORIENT: dict[int, Callable[[Image], Image]] = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: a[::-1, :].transpose(1, 0, 2),  # 90 degrees clockwise
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: a[:, ::-1].transpose(1, 0, 2),  # 90 degrees counter-clockwise
}


def apply_orientation(image: Image, orientation: int) -> Image:
    """Turn an image stored with EXIF orientation 1..8 upright (as Pillow's exif_transpose)."""
    op = _ORIENT.get(orientation)
    return image if op is None else np.ascontiguousarray(op(image))


def _downscale(image: Image, max_pixels: int) -> Image:
    height, width = image.shape[:2]
    if width * height <= max_pixels:
        return image
    import cv2  # heavy import only for the rare oversized picture

    scale = math.sqrt(max_pixels / (width * height))
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def iter_image_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand files and folders (recursively, sorted) into image paths.

    A file named explicitly is always yielded, whatever its extension, so a wrong file
    is reported by ``load_image`` rather than silently skipped; a missing path is
    yielded as-is for the same reason. Folders yield only image extensions.
    """
    for path in paths:
        if path.is_dir():
            yield from _walk(path)
        else:
            yield path


def _walk(folder: Path) -> Iterator[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        found.extend(Path(root) / f for f in files if Path(f).suffix.lower() in IMAGE_EXTENSIONS)
    yield from sorted(found)
