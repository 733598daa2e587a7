"""Header-only JPEG/PNG size check against PIL on real encoded images."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from edge.store.image_header import image_header


def encoded(fmt: str, size: tuple[int, int], **params: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (120, 30, 200)).save(buf, fmt, **params)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "params"),
    [
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("JPEG", {"quality": 40, "exif": b"Exif\x00\x00" + bytes(200)}),
        ("PNG", {}),
    ],
)
@pytest.mark.parametrize("size", [(1, 1), (640, 480), (1921, 7)])
def test_agrees_with_pil(fmt: str, params: dict[str, object], size: tuple[int, int]) -> None:
    data = encoded(fmt, size, **params)
    with Image.open(io.BytesIO(data)) as img:
        assert image_header(data) == (img.format, img.width * img.height)


def test_not_an_image_or_cut_short() -> None:
    jpeg = encoded("JPEG", (64, 48))
    png = encoded("PNG", (64, 48))
    assert image_header(b"GIF89a" + bytes(100)) == ("unknown", 0)
    assert image_header(b"") == ("unknown", 0)
    assert image_header(jpeg[:20]) == ("unknown", 0)  # ends before the frame header
    assert image_header(png[:20]) == ("unknown", 0)
    no_frame = b"\xff\xd8\xff\xe0\x00\x04ab\xff\xda\x00\x02"  # scan before any frame
    assert image_header(no_frame) == ("unknown", 0)


def test_huge_declared_size_is_reported_not_decoded() -> None:
    png = bytearray(encoded("PNG", (10, 10)))
    png[16:24] = (100_000).to_bytes(4, "big") * 2  # claims 100k x 100k
    assert image_header(bytes(png)) == ("PNG", 10_000_000_000)
