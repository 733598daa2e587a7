"""Fixtures for the RTSP tests: short clips encoded once per session, the real
GStreamer RTSP server (tests/support/rtsp_server.py) and a reader helper."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.rtsp import encode_clip, missing_tools


@pytest.fixture(scope="session", autouse=True)
def _tools() -> None:
    why = missing_tools()
    if why:
        pytest.skip(why)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    small = encode_clip(d / "small.ts", size=(320, 240), seconds=4, counter=True)
    wide = encode_clip(d / "wide.ts", size=(480, 272), seconds=2, counter=True)
    listing = d / "concat.txt"
    listing.write_text(f"file '{small}'\nfile '{wide}'\n")
    changing = d / "changing.ts"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c",
            "copy",
            str(changing),
        ],
        check=True,
        capture_output=True,
    )
    return {
        "small": small,
        "changing": changing,
        "main": encode_clip(d / "main.ts", size=(960, 540), seconds=4, counter=True),
        "sub": encode_clip(d / "sub.ts", size=(320, 180), seconds=4, counter=True),
    }
