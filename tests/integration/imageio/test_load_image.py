"""load_image on real files of every awkward kind, built in tmp_path."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from edge.config import ImageLimits
from edge.errors import ImageDecodeError, ImageTooLargeError, InputError
from edge.imageio import iter_image_paths, load_image

LIMITS = ImageLimits()


def _pattern(w: int = 40, h: int = 24) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _save_rgb(path: Path, rgb: np.ndarray, **kw: Any) -> Path:
    PILImage.fromarray(rgb).save(path, **kw)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_once_like_pillow(tmp_path: Path, orientation: int) -> None:
    rgb = _pattern()
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    path = _save_rgb(tmp_path / f"o{orientation}.png", rgb, exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(path)).convert("RGB"))[:, :, ::-1]
    got = load_image(path, LIMITS)
    assert got.image.shape == expected.shape
    assert (got.width, got.height) == (expected.shape[1], expected.shape[0])
    assert np.array_equal(got.image, expected)
    if orientation >= 5:
        assert (got.width, got.height) == (24, 40)


def test_plain_jpeg_is_bgr(tmp_path: Path) -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, :, 0] = 250  # red
    got = load_image(_save_rgb(tmp_path / "red.jpg", rgb, quality=95), LIMITS).image
    assert got.dtype == np.uint8 and got.shape == (32, 32, 3)
    assert got[:, :, 2].mean() > 240 and got[:, :, 0].mean() < 15


def test_chinese_file_name(tmp_path: Path) -> None:
    path = _save_rgb(tmp_path / "车牌_浙A12345 照片.jpg", _pattern())
    got = load_image(path, LIMITS)
    assert (got.width, got.height) == (40, 24)


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.jpg", b"", "empty"),
        ("notes.jpg", "这不是图片 just text\n".encode(), "not a readable image"),
        ("random.png", bytes(range(256)) * 8, "not a readable image"),
    ],
)
def test_not_an_image(tmp_path: Path, name: str, content: bytes, fragment: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError) as err:
        load_image(path, LIMITS)
    msg = str(err.value)
    assert str(path) in msg and fragment in msg
    assert "JPEG, PNG, BMP, WebP, TIFF" in msg


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp"])
def test_truncated(tmp_path: Path, fmt: str) -> None:
    full = _save_rgb(tmp_path / f"full.{fmt}", _pattern(200, 150))
    data = full.read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError) as err:
        load_image(cut, LIMITS)
    assert str(cut) in str(err.value)


def test_gif_refused_with_allowed_list(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    PILImage.fromarray(_pattern()).save(path)
    with pytest.raises(ImageDecodeError, match=r"GIF images are not supported \(allowed: JPEG"):
        load_image(path, LIMITS)


def test_missing_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "nope.jpg", LIMITS)
    with pytest.raises(InputError, match="is a folder"):
        load_image(tmp_path, LIMITS)


def test_grayscale(tmp_path: Path) -> None:
    gray = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (8, 1))
    path = tmp_path / "g.png"
    PILImage.fromarray(gray, mode="L").save(path)
    got = load_image(path, LIMITS).image
    assert got.shape == (8, 25, 3)
    assert np.array_equal(got[:, :, 0], gray) and np.array_equal(got[:, :, 2], gray)


def test_alpha_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[:, :5] = (0, 0, 255, 255)  # opaque blue on the left
    rgba[:, 5:] = (0, 0, 0, 0)  # fully transparent on the right
    path = tmp_path / "a.png"
    PILImage.fromarray(rgba, mode="RGBA").save(path)
    got = load_image(path, LIMITS).image
    assert got[:, :5].tolist() == [[[255, 0, 0]] * 5] * 10  # BGR blue
    assert (got[:, 5:] == 255).all()


def test_16bit_png_scaled(tmp_path: Path) -> None:
    values = np.tile(np.array([[0, 257, 32896, 65535]], dtype=np.uint16), (8, 2))
    path = tmp_path / "g16.png"
    PILImage.fromarray(values).save(path)
    got = load_image(path, LIMITS).image
    assert got[0, :, 0].tolist() == [0, 1, 128, 255] * 2


def test_16bit_rgb_png(tmp_path: Path) -> None:
    import cv2

    bgr16 = np.zeros((8, 8, 3), np.uint16)
    bgr16[..., 2] = 65535  # red, stored BGR by OpenCV
    path = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(path), bgr16)
    got = load_image(path, LIMITS).image
    assert got[0, 0].tolist() == [0, 0, 255]


def test_cmyk_jpeg(tmp_path: Path) -> None:
    cmyk = PILImage.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    path = tmp_path / "cmyk.jpg"
    cmyk.save(path, quality=95)
    assert PILImage.open(path).mode == "CMYK"
    b, g, r = load_image(path, LIMITS).image[8, 8].tolist()
    assert r > 230 and g < 30 and b < 30


def test_oversized_jpeg_downscaled_or_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    PILImage.new("L", (8000, 7000), 90).save(path, quality=50)  # 56 MP
    got = load_image(path, LIMITS)
    assert got.width * got.height <= LIMITS.max_pixels
    assert got.width / got.height == pytest.approx(8000 / 7000, rel=0.01)
    assert got.warnings and "downscaled" in got.warnings[0] and "56.0 MP" in got.warnings[0]
    with pytest.raises(ImageTooLargeError, match=r"huge\.jpg: image too large \(8000x7000"):
        load_image(path, ImageLimits(downscale_oversized=False))


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims a huge picture: a decompression bomb stand-in."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize(("w", "h"), [(11000, 10000), (30000, 30000)])
def test_png_bomb_refused_before_decoding(tmp_path: Path, w: int, h: int) -> None:
    path = _png_header_only(tmp_path / "bomb.png", w, h)
    with pytest.raises(ImageTooLargeError) as err:
        load_image(path, LIMITS)
    assert "bomb.png" in str(err.value)


def test_iter_image_paths(tmp_path: Path) -> None:
    (tmp_path / "b" / "深").mkdir(parents=True)
    for name in ["b/2.JPG", "b/深/1.png", "a.webp", "b/notes.txt", "c.tiff"]:
        (tmp_path / name).write_bytes(b"x")
    explicit = tmp_path / "b" / "notes.txt"
    missing = tmp_path / "missing.jpg"
    got = list(iter_image_paths([tmp_path, explicit, missing]))
    rel = [p.relative_to(tmp_path).as_posix() for p in got]
    assert rel == ["a.webp", "b/2.JPG", "b/深/1.png", "c.tiff", "b/notes.txt", "missing.jpg"]


@pytest.mark.parametrize("size", [(1, 1), (5, 3000), (4000, 3), (2100, 100)])
def test_degenerate_shapes_refused(tmp_path: Path, size: tuple[int, int]) -> None:
    path = tmp_path / "strip.png"
    PILImage.new("RGB", size).save(path)
    with pytest.raises(InputError, match=rf"{size[0]}x{size[1]} image cannot be analysed"):
        load_image(path, LIMITS)


def test_elongated_but_reasonable_shape_loads(tmp_path: Path) -> None:
    path = tmp_path / "panorama.png"
    PILImage.new("RGB", (2000, 100)).save(path)
    assert load_image(path, LIMITS).width == 2000
