"""Gateway health as reported in heartbeats (pure value types)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera_id: str
    up: bool
    fps: float  # analysed frames per second over the last interval
    frames_analysed: int  # since gateway start
    frames_dropped: int  # every reason together
    last_error: str = ""  # short, no personal data
    frames_received: int = 0  # arrived from the camera (before decoding)
    frames_decoded: int = 0
    #: (reason, count) pairs, reasons sorted: queue_full, too_old (scheduler),
    #: source_overrun (the source's own buffer overflowed)
    dropped_by_reason: tuple[tuple[str, int], ...] = ()
    frame_age_p50_s: float = 0.0  # frame age when analysis began, recent frames
    frame_age_p99_s: float = 0.0
    decode_errors: int = 0
    reconnects: int = 0
    lag_reason: str = ""  # why frames were dropped lately ("" = keeping up)


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    gateway_id: str
    sent_at_us: int
    software_version: str
    cameras: tuple[CameraHealth, ...]
    queue_depth: int
    outbox_events: int
    outbox_bytes: int
    model_ids: tuple[str, ...]
    face_model_id: str | None
    watchlist_version: int
    last_sequence: int
    started_at_us: int = 0
