"""``file:PATH``: a recorded video (FFmpeg) or one still image.

Video frames are read at the consumer's pace (nothing is dropped) and stamped with
the wall-clock start time plus their position in the video, so the sampler's
analysis rate follows the video's own timeline however fast it is decoded. A still
image is one frame stamped with the file's modification time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2

from edge.config import ImageLimits
from edge.errors import InputError, SourceError
from edge.gateway.sources import (
    CaptureClock,
    Frame,
    SourceSettings,
    SourceStats,
    now_us,
    quiet_native_logs,
    valid_image,
)
from edge.imageio import IMAGE_EXTENSIONS, load_image

log = logging.getLogger(__name__)

_DEFAULT_FPS = 25.0


class FileSource:
    def __init__(
        self, camera_id: str, path: Path, settings: SourceSettings, limits: ImageLimits
    ) -> None:
        self._camera_id = camera_id
        self._path = path
        self._settings = settings
        self._limits = limits
        self._ref = f"file:{path}"
        self._clock = CaptureClock(camera_id)
        self._cap: Any = None
        self._still = path.suffix.lower() in IMAGE_EXTENSIONS
        self._base_us = 0
        self._fps = _DEFAULT_FPS
        self._index = 0  # position in the video
        self._delivered = 0
        self._corrupt = 0
        self._finished = False
        self._last_frame_at: int | None = None

    @property
    def camera_id(self) -> str:
        return self._camera_id

    @property
    def live(self) -> bool:
        return False

    @property
    def finished(self) -> bool:
        return self._finished

    def drain(self) -> None:
        """Nothing to do: a file ends by itself, a live stream never does."""

    def start(self) -> None:
        if not self._path.is_file():
            raise SourceError(f"camera {self._camera_id}: {self._ref}: no such file")
        if self._still:
            return
        quiet_native_logs()
        cap = cv2.VideoCapture(str(self._path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"camera {self._camera_id}: {self._ref}: not a readable video "
                f"(FFmpeg formats such as {', '.join(sorted(_VIDEO_HINT))}) or image"
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = fps if 1.0 <= fps <= 240.0 else _DEFAULT_FPS
        self._base_us = now_us()
        self._cap = cap

    def stop(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        if self._finished:
            return None
        return self._read_still() if self._still else self._read_video()

    def _read_still(self) -> Frame | None:
        self._finished = True
        try:
            loaded = load_image(self._path, self._limits)
        except InputError as e:
            self._corrupt += 1
            log.warning("image skipped", extra={"camera_id": self._camera_id, "error": str(e)})
            return None
        mtime_us = self._path.stat().st_mtime_ns // 1000
        return self._frame(loaded.image, self._clock.stamp(mtime_us))

    def _read_video(self) -> Frame | None:
        if self._cap is None:
            raise SourceError(f"camera {self._camera_id}: {self._ref} read before start()")
        run = 0
        while run < self._settings.max_corrupt_run:
            ok, img = self._cap.read()
            if not ok:
                break  # end of file (FFmpeg skips undecodable packets by itself)
            position = self._index
            self._index += 1
            if valid_image(img):
                t = self._base_us + int(position * 1_000_000 / self._fps)
                return self._frame(img, self._clock.stamp(t))
            self._corrupt += 1
            run += 1
        if run:
            log.warning(
                "video ended in corrupt frames",
                extra={"camera_id": self._camera_id, "corrupt_run": run},
            )
        self._finished = True
        self.stop()
        return None

    def _frame(self, img: Any, captured: int) -> Frame:
        frame = Frame(
            self._camera_id,
            self._delivered,
            captured,
            img,
            self._ref,
            f"file:{self._camera_id}:{self._path}",
            self._delivered,
        )
        self._delivered += 1
        self._last_frame_at = captured
        return frame

    def ack(self, frame: Frame) -> None:
        """Nothing to remember here: the outbox keeps the position of the last frame
        that became evidence (``Frame.resume_key``), and the gateway skips up to it."""

    def stats(self) -> SourceStats:
        return SourceStats(
            camera_id=self._camera_id,
            kind="file",
            connected=self._cap is not None or (self._still and not self._finished),
            frames=self._delivered,
            corrupt=self._corrupt,
            overruns=0,
            reconnects=0,
            stalls=0,
            open_failures=0,
            clock_corrections=self._clock.corrections,
            last_frame_at_us=self._last_frame_at,
            finished=self._finished,
        )


_VIDEO_HINT = frozenset({"mp4", "mkv", "avi", "mov", "ts"})
