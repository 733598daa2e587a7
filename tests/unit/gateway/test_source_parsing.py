"""Source URI parsing, backoff, capture clock and drop-folder naming (pure logic)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from edge.backoff import Backoff
from edge.errors import SourceError
from edge.gateway.folder_source import is_candidate
from edge.gateway.sources import CaptureClock, SourceSettings, parse_uri, safe_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file:/data/v.mp4", ("file", "/data/v.mp4")),
        ("file:///data/v.mp4", ("file", "/data/v.mp4")),
        ("folder:/srv/ftp/cam1", ("folder", "/srv/ftp/cam1")),
        ("FOLDER:rel/dir", ("folder", "rel/dir")),
        ("usb:0", ("usb", "0")),
        ("rtsp://user:pw@10.0.0.5:554/h264", ("stream", "rtsp://user:pw@10.0.0.5:554/h264")),
        ("http://127.0.0.1:8080/video.mjpg", ("stream", "http://127.0.0.1:8080/video.mjpg")),
        ("https://cam.example/x", ("stream", "https://cam.example/x")),
    ],
)
def test_parse_uri(uri: str, expected: tuple[str, str]) -> None:
    assert parse_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://cam/x", "allowed file:PATH, folder:PATH"),
        ("", "allowed"),
        ("usb:x", "usb: needs a device number"),
        ("usb:99", "usb: needs a device number"),
        ("file:", "needs a path"),
        ("rtsp://", "no host"),
        ("rtsp://user:secret@/x", "no host"),
    ],
)
def test_bad_uris_name_the_uri_and_the_allowed_schemes(uri: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as err:
        parse_uri(uri)
    assert "secret" not in str(err.value)


def test_bare_existing_path_gets_a_hint(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=f"did you mean folder:{tmp_path}"):
        parse_uri(str(tmp_path))


def test_safe_uri_hides_passwords() -> None:
    assert safe_uri("rtsp://admin:hunter2@10.0.0.5/s") == "rtsp://admin:***@10.0.0.5/s"
    assert safe_uri("rtsp://10.0.0.5/s") == "rtsp://10.0.0.5/s"
    assert safe_uri("https://tok@cam/x") == "https://***@cam/x"
    assert safe_uri("http://cam/v.mjpg?user=a&access_token=XYZ&x=1") == (
        "http://cam/v.mjpg?user=a&access_token=***&x=1"
    )


def test_reconnect_backoff_grows_with_jitter_is_capped_and_resets() -> None:
    """Camera reconnects use the shared schedule with ``reconnect_jitter`` (0.25): every
    wait stays within the top quarter below the doubling cap."""
    s = SourceSettings(reconnect_initial_s=1.0, reconnect_max_s=8.0, reconnect_jitter=0.25)
    b = Backoff(s.reconnect_initial_s, s.reconnect_max_s, s.reconnect_jitter, random.Random(1))
    delays = [b.next_delay() for _ in range(7)]
    for d, base in zip(delays, [1, 2, 4, 8, 8, 8, 8], strict=True):
        assert base * 0.75 <= d <= base
    assert len(set(delays[3:])) > 1  # jitter: not all identical
    b.reset()
    assert b.next_delay() <= 1.0


def test_capture_clock_never_runs_backwards() -> None:
    c = CaptureClock("cam")
    out = [c.stamp(t) for t in (100, 200, 150, 200, 5_000_000, 10)]
    assert out == [100, 200, 201, 202, 5_000_000, 5_000_001]
    assert c.corrections == 3


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("20240101_120000.jpg", True),
        ("snap.JPEG", True),
        ("a.png", True),
        ("a.jpg.part", False),
        ("a.jpg.tmp", False),
        (".a.jpg", False),
        ("a.jpg~", False),
        ("notes.txt", False),
        ("video.mp4", False),
    ],
)
def test_drop_folder_candidates(name: str, ok: bool) -> None:
    assert is_candidate(name) is ok
