"""Recorded sources on real files: video and image files, an FTP-style drop folder."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import SourceError
from edge.gateway.sources import Frame, FrameSource, SourceSettings, open_source

FAST = SourceSettings(folder_poll_s=0.02, folder_stable_polls=2)


def _jpeg(path: Path, value: int, mtime_s: float | None = None) -> Path:
    img = np.full((48, 64, 3), value, np.uint8)
    img[0, 0] = (value * 7) % 256  # distinct content per value
    path.write_bytes(cv2.imencode(".jpg", img)[1].tobytes())
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))
    return path


def _drain(src: FrameSource, idle_s: float = 0.3, ack: bool = True) -> list[Frame]:
    """Read until nothing arrives for ``idle_s``; ack each frame like the pipeline."""
    out = []
    while (frame := src.read(idle_s)) is not None:
        out.append(frame)
        if ack:
            src.ack(frame)
    return out


def _names(frames: list[Frame]) -> list[str]:
    return [Path(f.source_ref.removeprefix("folder:")).name for f in frames]


def test_video_file_frames_follow_the_video_timeline(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(30):
        writer.write(np.full((48, 64, 3), i * 8, np.uint8))
    writer.release()
    src = open_source("cam-f", f"file:{video}", FAST, data_dir=tmp_path)
    assert not src.live
    src.start()
    frames = []
    while not src.finished:
        if (f := src.read()) is not None:
            frames.append(f)
    src.stop()
    assert [f.index for f in frames] == list(range(30))
    gaps = np.diff([f.captured_at_us for f in frames])
    assert np.all(gaps == 100_000)  # 10 fps, however fast it was decoded
    assert src.stats().frames == 30 and src.stats().finished


def test_broken_video_and_missing_file_fail_at_start(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(5000))
    with pytest.raises(SourceError, match="not a readable video"):
        open_source("c", f"file:{junk}", FAST, data_dir=tmp_path).start()
    with pytest.raises(SourceError, match="no such file"):
        open_source("c", f"file:{tmp_path / 'nope.mp4'}", FAST, data_dir=tmp_path).start()


def test_image_file_is_one_frame_and_a_corrupt_one_is_counted(tmp_path: Path) -> None:
    good = _jpeg(tmp_path / "still.jpg", 50, mtime_s=1_700_000_000)
    src = open_source("c", f"file:{good}", FAST, data_dir=tmp_path)
    src.start()
    frame = src.read()
    assert frame is not None and frame.captured_at_us == 1_700_000_000_000_000
    assert src.read() is None and src.finished
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(good.read_bytes()[:200])
    src = open_source("c", f"file:{bad}", FAST, data_dir=tmp_path)
    src.start()
    assert src.read() is None and src.stats().corrupt == 1 and src.finished


def test_folder_backlog_then_new_drops_in_name_order(tmp_path: Path) -> None:
    drop = tmp_path / "ftp"
    drop.mkdir()
    for i in (3, 1, 2):
        _jpeg(drop / f"img_{i:03d}.jpg", i * 20, mtime_s=1_700_000_000 + i)
    (drop / "readme.txt").write_text("not an image")
    src = open_source("cam-d", f"folder:{drop}", FAST, data_dir=tmp_path / "data")
    src.start()
    try:
        frames = _drain(src)
        assert _names(frames) == ["img_001.jpg", "img_002.jpg", "img_003.jpg"]
        assert [f.captured_at_us for f in frames] == [
            (1_700_000_000 + i) * 1_000_000 for i in (1, 2, 3)
        ]
        _jpeg(drop / "img_004.jpg", 80)
        assert _names(_drain(src)) == ["img_004.jpg"]
    finally:
        src.stop()


def test_uploads_in_progress_are_not_taken(tmp_path: Path) -> None:
    drop = tmp_path / "ftp"
    drop.mkdir()
    settings = SourceSettings(folder_poll_s=0.1, folder_stable_polls=2)
    src = open_source("cam-d", f"folder:{drop}", settings, data_dir=tmp_path / "data")
    src.start()
    try:
        data = _jpeg(tmp_path / "full.jpg", 99).read_bytes()
        part = drop / "cam.jpg.part"
        part.write_bytes(data)
        growing = drop / "growing.jpg"
        with growing.open("wb") as fh:
            for chunk in range(0, len(data), 64):  # an FTP upload trickling in
                fh.write(data[chunk : chunk + 64])
                fh.flush()
                assert src.read(0.03) is None
            assert src.read(0.05) is None
        assert _names(_drain(src, idle_s=0.5)) == ["growing.jpg"]
        part.rename(drop / "cam.jpg")  # the upload finished: renamed to its final name
        frames = _drain(src, idle_s=0.5)
        # same bytes as growing.jpg: a re-upload of a processed picture is not reported
        assert frames == [] and src.stats().duplicates == 1
        assert src.stats().corrupt == 0
    finally:
        src.stop()


def test_corrupt_images_are_skipped_counted_and_not_retried(tmp_path: Path) -> None:
    drop = tmp_path / "ftp"
    drop.mkdir()
    good = _jpeg(drop / "a.jpg", 10)
    (drop / "b.jpg").write_bytes(good.read_bytes()[:150])
    (drop / "c.jpg").write_bytes(b"")
    (drop / "d.jpg").write_bytes(os.urandom(300))
    data = tmp_path / "data"
    src = open_source("cam-d", f"folder:{drop}", FAST, data_dir=data)
    src.start()
    assert _names(_drain(src)) == ["a.jpg"]
    assert src.stats().corrupt == 2  # the empty file is still "being written"
    src.stop()
    again = open_source("cam-d", f"folder:{drop}", FAST, data_dir=data)
    again.start()
    assert _drain(again) == [] and again.stats().corrupt == 0
    again.stop()


def test_restart_reports_unacked_frames_again_and_acked_never(tmp_path: Path) -> None:
    drop = tmp_path / "ftp"
    drop.mkdir()
    for i in range(6):
        _jpeg(drop / f"s{i}.jpg", 30 + i)
    data = tmp_path / "data"
    src = open_source("cam-d", f"folder:{drop}", FAST, data_dir=data)
    src.start()
    got: list[Frame] = []
    while len(got) < 4:
        if (f := src.read(1.0)) is not None:
            got.append(f)
    for f in got[:2]:
        src.ack(f)  # s2, s3 were delivered but the gateway died before analysing them
    src.stop()

    src = open_source("cam-d", f"folder:{drop}", FAST, data_dir=data)
    src.start()
    assert _names(_drain(src)) == ["s2.jpg", "s3.jpg", "s4.jpg", "s5.jpg"]
    src.stop()
    src = open_source("cam-d", f"folder:{drop}", FAST, data_dir=data)
    src.start()
    assert _drain(src) == []
    src.stop()


def test_vanishing_and_reappearing_folder(tmp_path: Path) -> None:
    drop = tmp_path / "share"
    drop.mkdir()
    _jpeg(drop / "a.jpg", 1)
    _jpeg(drop / "b.jpg", 2)
    src = open_source("cam-d", f"folder:{drop}", FAST, data_dir=tmp_path / "data")
    src.start()
    try:
        assert _names(_drain(src)) == ["a.jpg", "b.jpg"]
        away = tmp_path / "unmounted"
        drop.rename(away)  # the share disappears
        assert _drain(src) == []
        assert not src.stats().connected and src.stats().open_failures >= 1
        _jpeg(away / "c.jpg", 3)  # written while we could not see it
        shutil.copytree(away, drop, copy_function=shutil.copy)  # back, with new mtimes
        time.sleep(0.05)
        assert _names(_drain(src)) == ["c.jpg"]
        assert src.stats().connected and src.stats().duplicates == 2
    finally:
        src.stop()


def test_missing_folder_at_start_is_waited_for(tmp_path: Path) -> None:
    drop = tmp_path / "later"
    src = open_source("cam-d", f"folder:{drop}", FAST, data_dir=tmp_path / "data")
    src.start()
    try:
        assert src.read(0.1) is None and not src.stats().connected
        drop.mkdir()
        _jpeg(drop / "x.jpg", 5)
        assert _names(_drain(src)) == ["x.jpg"]
    finally:
        src.stop()
