"""Configuration of a camera gateway (`kind: gateway`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config import Address, StrictModel, VisionConfig, check_address
from edge.gateway.viid_config import ViidReceiverConfig, check_viid_cameras
from edge.ids import ID_PATTERN

#: x1, y1, x2, y2 as fractions of the frame width/height (0..1)
NormRect = tuple[float, float, float, float]


def _check_rect(r: NormRect) -> NormRect:
    x1, y1, x2, y2 = r
    if not (0.0 <= x1 < x2 <= 1.0 and 0.0 <= y1 < y2 <= 1.0):
        raise ValueError(
            f"{list(r)} must be [x1, y1, x2, y2] fractions with 0<=x1<x2<=1, 0<=y1<y2<=1"
        )
    return r


class ClientTls(StrictModel):
    ca: Path = Field(description="PEM CA that signed the store's server certificate")
    cert: Path = Field(description="this gateway's PEM client certificate")
    key: Path = Field(description="its private key (mode 0600)")


class Location(StrictModel):
    lat: float = Field(ge=-90.0, le=90.0)
    lon: float = Field(ge=-180.0, le=180.0)


class MotionConfig(StrictModel):
    """Frame differencing on a small grey thumbnail, compared with the thumbnail of the
    last frame a detector looked at: when nothing moved since then, that detector's
    previous answer still stands and it is skipped (its tracks are kept alive)."""

    enabled: bool = True
    thumb_width: int = Field(
        default=320, ge=64, le=1920, description="thumbnail width in pixels (aspect kept)"
    )
    pixel_threshold: int = Field(
        default=18, ge=1, le=255, description="grey-level change that counts as motion"
    )
    min_area: float = Field(
        default=0.0002,
        ge=0.0,
        le=1.0,
        description="fraction of thumbnail pixels that must change; the default is about "
        "one 24 px face moving at 1080p",
    )
    keyframe_s: float = Field(
        default=5.0, gt=0.0, le=3600.0, description="run every detector at least this often"
    )


class AnalysisConfig(StrictModel):
    """How often each detector runs on a camera's analysed frames.

    Between detector runs, tracks coast on their predicted boxes. A frame that becomes
    evidence always has every enabled detector run on it first, so every unmatched face
    and plate of an emitted scene is known and redacted.
    """

    motion: MotionConfig = MotionConfig()
    face_detect_fps: float | None = Field(
        default=10.0,
        gt=0.0,
        le=60.0,
        description="highest rate (per second of capture time) of the face detector on "
        "moving scenes; None = every analysed frame",
    )
    plate_detect_fps: float | None = Field(
        default=5.0,
        gt=0.0,
        le=60.0,
        description="highest rate of the plate detector on moving scenes; None = every "
        "analysed frame",
    )
    recognise_on_main: bool = Field(
        default=False,
        description="with detect_source: embed faces and read small plates from the main "
        "stream's picture (re-detected around what the sub-stream showed). Recognises "
        "faces too small on the sub-stream, but decodes the main stream while faces or "
        "plates are in view (~0.11 core per 1080p25 camera; docs/gateway.md 'Sizing')",
    )


class CameraConfig(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    source: str = Field(
        min_length=1,
        description="rtsp://... URL, a video file, an image drop folder, or usb:N",
    )
    detect_source: str | None = Field(
        default=None,
        min_length=1,
        description="the camera's sub-stream (rtsp://...), analysed instead of source; "
        "source's frames then serve only as evidence images",
    )
    fps: float = Field(default=5.0, gt=0.0, le=60.0, description="frames analysed per second")
    roi: NormRect | None = Field(default=None, description="analyse only this region")
    privacy_masks: list[NormRect] = Field(
        default_factory=list, description="regions never analysed and always blurred"
    )
    recognisers: tuple[Literal["faces", "plates"], ...] = Field(
        default=("faces", "plates"), min_length=1
    )
    location: Location | None = None
    analysis: AnalysisConfig = AnalysisConfig()

    @model_validator(mode="after")
    def _sub_stream(self) -> CameraConfig:
        streams = ("rtsp://", "rtsps://", "http://", "https://")
        if self.detect_source is not None and not (
            self.source.lower().startswith(streams)
            and self.detect_source.lower().startswith(streams)
        ):
            # no URL in the message: it may carry a password
            raise ValueError(
                f"camera {self.id}: detect_source (a sub-stream) needs source and "
                "detect_source to be rtsp://, rtsps:// or http(s):// stream URLs"
            )
        return self

    @field_validator("roi")
    @classmethod
    def _roi(cls, v: NormRect | None) -> NormRect | None:
        return None if v is None else _check_rect(v)

    @field_validator("privacy_masks")
    @classmethod
    def _masks(cls, v: list[NormRect]) -> list[NormRect]:
        return [_check_rect(r) for r in v]


class OutboxConfig(StrictModel):
    max_events: int = Field(default=100_000, ge=10)
    max_bytes: int = Field(default=2 << 30, ge=1 << 20)
    when_full: Literal["block", "refuse_new"] = Field(
        default="refuse_new",
        description="block: stall analysis until space frees; refuse_new: drop NEW matches "
        "with an error log and a counter. Stored evidence is never dropped silently.",
    )


class UplinkConfig(StrictModel):
    backoff_initial_s: float = Field(default=0.5, gt=0.0, le=60.0)
    backoff_max_s: float = Field(default=30.0, gt=0.0, le=3600.0)
    max_in_flight: int = Field(default=128, ge=1, le=1024, description="unacked events")
    batch_events: int = Field(
        default=32,
        ge=1,
        le=256,
        description="most events per Deliver request (the store's limit defaults to 256)",
    )
    batch_bytes: int = Field(
        default=4 << 20, ge=64 << 10, le=128 << 20, description="most bytes per Deliver request"
    )
    heartbeat_interval_s: float = Field(default=15.0, ge=1.0, le=3600.0)
    watchlist_sync_interval_s: float = Field(default=60.0, ge=1.0, le=86400.0)
    max_message_bytes: int = Field(
        default=32 << 20, ge=1 << 20, le=256 << 20, description="largest gRPC message either way"
    )

    @model_validator(mode="after")
    def _order(self) -> UplinkConfig:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        if self.batch_bytes >= self.max_message_bytes:
            raise ValueError(
                f"batch_bytes ({self.batch_bytes}) must be below max_message_bytes "
                f"({self.max_message_bytes}): a request also carries framing"
            )
        return self


class LoggingConfig(StrictModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    path: Path | None = Field(default=None, description="JSON-lines log file; None = stderr")
    max_bytes: int = Field(default=20 << 20, ge=64 << 10)
    backups: int = Field(default=5, ge=0, le=100)


class SourceSettings(StrictModel):
    """How camera sources connect, reconnect and poll (one block for every camera)."""

    reconnect_initial_s: float = Field(default=1.0, gt=0.0, le=60.0)
    reconnect_max_s: float = Field(default=30.0, gt=0.0, le=3600.0)
    reconnect_jitter: float = Field(default=0.25, ge=0.0, le=1.0, description="fraction")
    open_timeout_s: float = Field(default=10.0, gt=0.0, le=300.0)
    stall_timeout_s: float = Field(default=10.0, gt=0.0, le=3600.0, description="no frame")
    read_failures_before_reconnect: int = Field(default=3, ge=1, le=1000)
    buffer_frames: int = Field(default=4, ge=1, le=256, description="per live camera")
    rtsp_transport: Literal["tcp", "udp", "auto"] = Field(
        default="tcp",
        description="RTSP lower transport; tcp survives packet loss without corrupt "
        "frames, auto lets FFmpeg try udp then tcp",
    )
    decoder_threads: int = Field(
        default=1,
        ge=0,
        le=16,
        description="FFmpeg decoder threads per stream (0 = one per core); 1 suits many "
        "cameras per gateway: frame threads add a frame of latency each",
    )
    evidence_buffer_s: float = Field(
        default=4.0,
        gt=0.0,
        le=60.0,
        description="main-stream packets kept for evidence when a camera has a "
        "detect_source (decoded only when a frame becomes evidence)",
    )
    max_corrupt_run: int = Field(default=100, ge=1, description="file: give up after")
    folder_poll_s: float = Field(default=1.0, gt=0.0, le=3600.0)
    folder_stable_polls: int = Field(default=2, ge=1, le=100)

    @model_validator(mode="after")
    def _order(self) -> SourceSettings:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self


class SchedulerConfig(StrictModel):
    """One inference scheduler serves every camera (edge/gateway/scheduler.py)."""

    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="analysis threads; 0 = one per CPU core. With more than one, every "
        "onnxruntime session runs single-threaded (intra_op_threads 1) unless set explicitly",
    )
    queue_per_camera: int = Field(
        default=2,
        ge=1,
        le=1000,
        description="frames waiting for analysis, per camera; a live camera's newest frame "
        "replaces its oldest waiting one (dropped, reason queue_full)",
    )
    max_frame_age_s: float = Field(
        default=2.0,
        gt=0.0,
        le=3600.0,
        description="a live frame older than this when a worker is free is dropped "
        "(reason too_old) instead of analysed late",
    )


def _check_listen(value: str) -> str:
    try:
        return check_address(value)
    except ValueError:
        raise ValueError(
            f"metrics.listen {value!r} must be host:port (e.g. 127.0.0.1:9811), or set "
            "metrics: null to turn the endpoint off"
        ) from None


class MetricsConfig(StrictModel):
    """The gateway's Prometheus endpoint (GET /metrics)."""

    listen: str = Field(
        default="127.0.0.1:9811",
        description="host:port to serve /metrics on; keep it on 127.0.0.1 unless a scraper "
        "elsewhere needs it",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        return _check_listen(v)


class TrackerConfig(StrictModel):
    high_score: float = Field(default=0.5, gt=0.0, le=1.0, description="starts/extends tracks")
    low_score: float = Field(default=0.1, ge=0.0, le=1.0, description="may only extend tracks")
    iou_match: float = Field(default=0.3, gt=0.0, lt=1.0)
    iou_match_low: float = Field(default=0.5, gt=0.0, lt=1.0)
    min_hits: int = Field(default=1, ge=1, le=30, description="hits before a track counts")
    max_missed: int = Field(default=8, ge=0, le=1000, description="analysed frames")
    best_shots: int = Field(default=3, ge=1, le=20)
    embed_min_quality: float = Field(default=0.3, ge=0.0, le=1.0)
    embed_margin: float = Field(default=0.05, ge=0.0, le=1.0)
    max_embeds: int = Field(default=3, ge=1, le=50)
    #: faces: the best this-many shots of a track are all embedded and matched (the best
    #: similarity counts), whatever ``embed_margin`` says; 1 = only clearly better shots
    #: (``embed_margin``) are. See docs/accuracy.md "Street features".
    embed_shots: int = Field(default=3, ge=1, le=20)
    #: faces: also match the quality-weighted mean of those shots' embeddings. Off: on
    #: the street suite it was not better than the best single shot (docs/accuracy.md).
    fuse_embeddings: bool = False
    max_tracks: int = Field(default=256, ge=1, le=10_000)
    #: a listed subject matched again on this camera within this many seconds of its
    #: last match continues that match (one event, at most one better-shot update)
    #: instead of starting a new one: a subject that moves more than its own size
    #: between analysed frames (a car crossing 1080p in 2 s at 5 fps) breaks its track
    #: at every frame. 0 = every track is its own match.
    repeat_window_s: float = Field(default=10.0, ge=0.0, le=3600.0)

    @model_validator(mode="after")
    def _scores(self) -> TrackerConfig:
        if self.low_score > self.high_score:
            raise ValueError(f"low_score {self.low_score} must be <= high_score {self.high_score}")
        return self


class TrackingConfig(StrictModel):
    """One tracker per camera and kind. A track's ``embed`` flag marks a clearly better
    shot: for faces it is worth (re)embedding, for plates worth (re)reading."""

    faces: TrackerConfig = TrackerConfig()
    plates: TrackerConfig = TrackerConfig()


class GatewayConfig(StrictModel):
    kind: Literal["gateway"] = "gateway"
    gateway_id: str = Field(pattern=ID_PATTERN)
    store: Address = Field(description="store gRPC address host:port")
    tls: ClientTls
    signing_key: Path = Field(description="PEM Ed25519 private key signing events (0600)")
    data_dir: Path = Field(description="outbox, chain state and local watchlist live here")
    cameras: list[CameraConfig] = Field(default_factory=list)
    vision: VisionConfig = VisionConfig()
    outbox: OutboxConfig = OutboxConfig()
    uplink: UplinkConfig = UplinkConfig()
    logging: LoggingConfig = LoggingConfig()
    sources: SourceSettings = SourceSettings()
    scheduler: SchedulerConfig = SchedulerConfig()
    metrics: MetricsConfig | None = Field(
        default=MetricsConfig(), description="Prometheus endpoint; null = off"
    )
    tracking: TrackingConfig = TrackingConfig()
    viid: ViidReceiverConfig | None = Field(
        default=None, description="GA/T 1400 endpoint for smart cameras (viid: sources)"
    )

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: object) -> object:
        if isinstance(data, dict) and "sampler" in data:
            raise ValueError(
                "sampler: was replaced by scheduler: (workers, queue_per_camera, "
                "max_frame_age_s); move sampler.queue_per_camera to scheduler.queue_per_camera"
            )
        return data

    @model_validator(mode="after")
    def _viid_cameras(self) -> GatewayConfig:
        check_viid_cameras(self.viid, [(c.id, c.source) for c in self.cameras])
        return self

    @model_validator(mode="after")
    def _unique_cameras(self) -> GatewayConfig:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"cameras: duplicate ids {dupes}")
        return self
