"""Live sources read by one thread per camera: USB cameras (OpenCV) here, and the
thread/buffer/reconnect machinery that ``av_stream.AvStreamSource`` (RTSP/HTTP through
PyAV) reuses.

The reader thread owns the capture. It reconnects with exponential backoff and
jitter when the stream cannot be opened, ends, fails repeatedly or stalls (nothing
for ``stall_timeout_s``; FFmpeg's read timeout makes a silent socket return instead
of blocking forever). Frames go into a small buffer that drops its oldest frame when
the consumer falls behind, because for a live camera the newest frame matters most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import cv2

from edge.backoff import Backoff
from edge.gateway.sources import (
    CaptureClock,
    Frame,
    SourceSettings,
    SourceStats,
    now_us,
    quiet_native_logs,
    safe_uri,
    valid_image,
)

log = logging.getLogger(__name__)

_JOIN_TIMEOUT_S = 5.0


class StreamSource:
    """``rtsp://``, ``http(s)://`` (FFmpeg) or ``usb:N`` (device index)."""

    def __init__(self, camera_id: str, target: str | int, settings: SourceSettings) -> None:
        self._camera_id = camera_id
        self._target = target
        self._settings = settings
        self._ref = f"usb:{target}" if isinstance(target, int) else safe_uri(target)
        self._clock = CaptureClock(camera_id)
        self._backoff = Backoff(
            settings.reconnect_initial_s, settings.reconnect_max_s, settings.reconnect_jitter
        )
        self._buffer: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._index = 0
        self._connected = False
        self._frames = self._corrupt = self._overruns = 0
        self._reconnects = self._stalls = self._open_failures = 0
        self._received = self._decoded = self._decode_errors = self._skipped = 0
        self._last_frame_at: int | None = None

    @property
    def camera_id(self) -> str:
        return self._camera_id

    @property
    def live(self) -> bool:
        return True

    @property
    def finished(self) -> bool:
        return False

    def drain(self) -> None:
        """Nothing to do: a file ends by itself, a live stream never does."""

    def start(self) -> None:
        quiet_native_logs()
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"source-{self._camera_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(_JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("camera reader did not stop in time", extra=self._ids())
            self._thread = None

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(remaining)
            return self._buffer.popleft()

    def ack(self, frame: Frame) -> None:
        """Nothing to remember for a live stream."""

    def stats(self) -> SourceStats:
        with self._cond:
            return SourceStats(
                camera_id=self._camera_id,
                kind="usb" if isinstance(self._target, int) else "stream",
                connected=self._connected,
                frames=self._frames,
                corrupt=self._corrupt,
                overruns=self._overruns,
                reconnects=self._reconnects,
                stalls=self._stalls,
                open_failures=self._open_failures,
                clock_corrections=self._clock.corrections,
                last_frame_at_us=self._last_frame_at,
                finished=False,
                received=self._received,
                decoded=self._decoded,
                decode_errors=self._decode_errors,
                skipped=self._skipped,
            )

    # -- reader thread -----------------------------------------------------------

    def _ids(self) -> dict[str, str]:
        return {"camera_id": self._camera_id, "source": self._ref}

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            if not first:
                delay = self._backoff.next_delay()
                log.info("camera reconnecting", extra={**self._ids(), "in_s": round(delay, 2)})
                if self._stop.wait(delay):
                    break
            first = False
            cap = self._open()
            if cap is None:
                continue
            try:
                self._pump(cap)
            except Exception:  # the reader must survive anything a driver throws
                log.exception("camera reader failed; reconnecting", extra=self._ids())
            finally:
                self._close(cap)
                with self._cond:
                    self._connected = False
                    if not self._stop.is_set():
                        self._reconnects += 1

    def _open(self) -> Any:
        timeout_ms = int(self._settings.open_timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms]
        params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self._settings.stall_timeout_s * 1000)]
        try:
            if isinstance(self._target, int):
                cap = cv2.VideoCapture(self._target, cv2.CAP_ANY, params)
            else:
                cap = cv2.VideoCapture(self._target, cv2.CAP_FFMPEG, params)
        except cv2.error:
            cap = None
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            with self._cond:
                self._open_failures += 1
            log.warning("camera cannot be opened", extra=self._ids())
            return None
        with self._cond:
            self._connected = True
        log.info("camera connected", extra=self._ids())
        return cap

    def _close(self, cap: Any) -> None:
        cap.release()

    def _pump(self, cap: Any) -> None:
        """Read until the stream ends, fails repeatedly or stalls."""
        s = self._settings
        last_ok = time.monotonic()
        failures = 0
        while not self._stop.is_set():
            ok, img = cap.read()
            now = time.monotonic()
            if ok and valid_image(img):
                with self._cond:
                    self._received += 1
                    self._decoded += 1
                self._deliver(img)
                self._backoff.reset()
                last_ok, failures = now, 0
                continue
            if ok:
                with self._cond:
                    self._corrupt += 1
            else:
                failures += 1
            if now - last_ok >= s.stall_timeout_s:
                with self._cond:
                    self._stalls += 1
                log.warning(
                    "camera stalled", extra={**self._ids(), "silent_s": round(now - last_ok, 1)}
                )
                return
            if failures >= s.read_failures_before_reconnect:
                log.warning("camera stream lost", extra=self._ids())
                return

    def _deliver(self, img: Any, captured_at_us: int | None = None, hires: Any = None) -> None:
        with self._cond:
            captured = self._clock.stamp(now_us() if captured_at_us is None else captured_at_us)
            frame = Frame(self._camera_id, self._index, captured, img, self._ref, hires=hires)
            self._index += 1
            self._frames += 1
            self._last_frame_at = captured
            if len(self._buffer) >= self._settings.buffer_frames:
                self._buffer.popleft()
                self._overruns += 1
            self._buffer.append(frame)
            self._cond.notify()
