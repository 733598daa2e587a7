"""Strict configuration models shared by every component.

Every model forbids unknown keys and is frozen, so a typo in a YAML file is an error
with its key path rather than a silently ignored setting.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from edge.errors import ConfigError

MODELS_DIR_ENV = "EDGE_MODELS_DIR"
M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")


def check_address(value: str) -> str:
    """`host:port` with a port in 1..65535 (shared by every config that names a peer)."""
    m = _HOST_PORT.match(value)
    if not m or not 0 < int(m["port"]) < 65536:
        raise ValueError("must be host:port with a port 1..65535, e.g. 127.0.0.1:7443")
    return value


Address = Annotated[str, AfterValidator(check_address)]


Provider = Literal["cpu", "cuda", "tensorrt", "openvino"]


ModelVariant = Literal["fp32", "int8"]


class ModelVariants(StrictModel):
    """fp32 everywhere by default: a variant is adopted per role, only where measured."""

    face_detector: ModelVariant = "fp32"
    face_embedder: ModelVariant = "fp32"
    plate_detector: ModelVariant = "fp32"
    plate_reader: ModelVariant = "fp32"
    plate_color: ModelVariant = "fp32"


class RuntimeConfig(StrictModel):
    """How ONNX sessions run."""

    providers: list[Provider] = Field(default_factory=lambda: list[Provider](["cpu"]), min_length=1)
    intra_op_threads: int = Field(default=0, ge=0, le=64, description="0 = onnxruntime default")
    #: onnxruntime's spinning threads make several sessions fight over 2-4 cores;
    #: measured 1.5-2.6x faster with it off on such boxes, identical results.
    allow_spinning: bool = False
    #: per role, which copy of the pack model runs: the pack's own fp32 file or a
    #: variant made by `edgewatch models quantize` (docs/accuracy.md "Model variants")
    variants: ModelVariants = ModelVariants()
    #: folder written by `edgewatch models quantize --to`; default <models_dir>/variants
    variants_dir: Path | None = None


class TileConfig(StrictModel):
    """A second detector pass over overlapping tiles of large frames (small targets).

    Off by default: it multiplies the detector's cost by (1 + tiles); see
    docs/accuracy.md "Street features" for the measured gain and cost."""

    enabled: bool = False
    #: tile side in frame pixels; the detector input (640) over this is the zoom
    size: int = Field(default=960, ge=160, le=4096)
    #: pixels shared by neighbouring tiles: more than the largest target to be tiled
    overlap: int = Field(default=192, ge=0, le=2048)
    #: frames whose longer side is shorter than this are not tiled
    min_frame_px: int = Field(default=1280, ge=160, le=16384)
    #: boxes overlapping a better one by more than this IoU are one target seen twice
    merge_iou: float = Field(default=0.5, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _overlap(self) -> TileConfig:
        if self.overlap >= self.size:
            raise ValueError(
                f"overlap {self.overlap} must be smaller than the tile size {self.size}"
            )
        return self


class FaceConfig(StrictModel):
    enabled: bool = True
    detector: Literal["scrfd_500m", "scrfd_2.5g"] = "scrfd_500m"
    det_size: int = Field(default=640, ge=160, le=1280, multiple_of=32)
    det_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    #: faces scoring between this and det_threshold are not recognised but are still
    #: blurred in evidence: a dim face behind a windshield is still somebody's face
    redact_threshold: float = Field(default=0.2, gt=0.0, lt=1.0)
    min_face_px: int = Field(default=24, ge=8, le=1024)
    min_quality: float = Field(default=0.3, ge=0.0, le=1.0)
    #: manifest id of the face embedder; watchlist templates must come from the same model
    embedder: str = Field(default="mobilefacenet_128", pattern=r"^[A-Za-z0-9_.\-]+$")
    #: aligned crops darker than this mean luma (0-255) get their luma range stretched
    #: to 0-255 before embedding; 0 = off. Street night: rank-1 76 -> 86 %, no change
    #: by day (docs/accuracy.md, "Face embedding options"). Enrolment photos this dark
    #: are stretched too.
    stretch_dark_below: float = Field(default=60.0, ge=0.0, le=255.0)
    #: embed each crop and its mirror and average: +0-4 of 50 street probes at the match
    #: threshold per condition, twice the embedding time. Applies to enrolment too:
    #: re-enrol for the full gain (old templates still match, with part of it)
    flip_average: bool = False
    tiles: TileConfig = TileConfig()

    @model_validator(mode="after")
    def _thresholds(self) -> FaceConfig:
        if self.redact_threshold > self.det_threshold:
            raise ValueError(
                f"redact_threshold {self.redact_threshold} must be <= det_threshold "
                f"{self.det_threshold} (everything recognised is also blurred when unmatched)"
            )
        return self


class PlateConfig(StrictModel):
    enabled: bool = True
    detector: Literal["y5fu_320", "y5fu_640"] = "y5fu_640"
    reader: Literal["plate_rec_color", "ppocr_v4"] = "plate_rec_color"
    det_threshold: float = Field(default=0.3, gt=0.0, lt=1.0)
    nms_iou: float = Field(default=0.5, gt=0.0, lt=1.0)
    min_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    tiles: TileConfig = TileConfig()


class PrivacyConfig(StrictModel):
    """The privacy sweep over every scene that becomes evidence (see docs/evidence.md).

    It runs its own detectors at a lower threshold and at full resolution (tiles), so
    a face too small or too faint to recognise is still pixelated. It runs only on
    evidence frames; if it cannot run, the whole scene except the match is pixelated.
    """

    enabled: bool = Field(
        default=True, description="false: only what recognition saw is redacted (not advised)"
    )
    face_detector: Literal["scrfd_500m", "scrfd_2.5g"] = "scrfd_500m"
    face_threshold: float = Field(default=0.15, gt=0.0, lt=1.0)
    #: tiles: face_tile tiles plus whole-frame passes. full: the whole-frame passes plus
    #: one at the frame's own resolution (x face_upscale, up to face_full_max_px on the
    #: longer side; larger frames are tiled): the same scale without the tiles' overlap,
    #: 0.81x the sweep's time on 1080p, but on bench/privacy_sweep.py's 12 scenes it
    #: left one face clear (105 px, cut by the frame's edge) that tiles found; see
    #: docs/evidence.md "Privacy sweep"
    face_pass: Literal["tiles", "full"] = "tiles"
    face_full_max_px: int = Field(default=2048, ge=640, le=4096, multiple_of=32)
    #: faces are found on tiles of this size at this input scale (1.5 = a 20 px face
    #: reaches the detector as 30 px); plus one whole-frame pass for large faces
    face_tile: int = Field(default=640, ge=160, le=1280, multiple_of=32)
    face_upscale: float = Field(default=1.0, ge=1.0, le=2.0)
    #: y5fu_320 on 480 px tiles found every 45-120 px plate the 640 model on 960 px
    #: tiles found, at about half the cost (docs/evidence.md "Privacy sweep")
    plate_detector: Literal["y5fu_320", "y5fu_640"] = "y5fu_320"
    plate_threshold: float = Field(default=0.15, gt=0.0, lt=1.0)
    plate_tile: int = Field(default=480, ge=160, le=1920, multiple_of=32)
    tile_overlap: int = Field(
        default=128, ge=0, le=512, description="px shared by neighbouring tiles"
    )

    @model_validator(mode="after")
    def _sizes(self) -> PrivacyConfig:
        side = self.face_tile * self.face_upscale
        if side > 1280:
            raise ValueError(
                f"face_tile {self.face_tile} x face_upscale {self.face_upscale} = {side:.0f} "
                "px exceeds the face detector's largest input (1280)"
            )
        if self.tile_overlap >= min(self.face_tile, self.plate_tile):
            raise ValueError(
                f"tile_overlap {self.tile_overlap} must be smaller than face_tile "
                f"{self.face_tile} and plate_tile {self.plate_tile}"
            )
        return self


class MatchConfig(StrictModel):
    #: cosine threshold for the pack's 128-d MobileFaceNet with SCRFD-500M alignment:
    #: just above the highest impostor pair of the evaluation set (a look-alike, 0.474),
    #: TAR 97.2 % at 0 false accepts; see docs/accuracy.md "Faces"
    face_threshold: float = Field(default=0.48, gt=-1.0, lt=1.0)
    face_top_k: int = Field(default=5, ge=1, le=100)
    plate_max_distance: float = Field(default=1.0, ge=0.0, le=4.0)


class ImageLimits(StrictModel):
    max_pixels: int = Field(default=50_000_000, ge=1_000_000)
    #: larger images are downscaled to at most this many pixels (with a warning)
    #: instead of refused, when true
    downscale_oversized: bool = True


class VisionConfig(StrictModel):
    models_dir: Path | None = None
    runtime: RuntimeConfig = RuntimeConfig()
    faces: FaceConfig = FaceConfig()
    plates: PlateConfig = PlateConfig()
    match: MatchConfig = MatchConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    images: ImageLimits = ImageLimits()


class AnalyzeConfig(StrictModel):
    """Config file for `edgewatch analyze --config` (kind: analyze)."""

    kind: Literal["analyze"] = "analyze"
    vision: VisionConfig = VisionConfig()


def resolve_models_dir(explicit: Path | None, configured: Path | None = None) -> Path:
    """`--models` beats the config file, which beats EDGE_MODELS_DIR."""
    chosen = explicit or configured
    if chosen is None:
        env = os.environ.get(MODELS_DIR_ENV)
        if not env:
            raise ConfigError(
                "no model pack: pass --models DIR or set EDGE_MODELS_DIR "
                "(e.g. EDGE_MODELS_DIR=../shared/models)"
            )
        chosen = Path(env)
    if not chosen.is_dir():
        raise ConfigError(f"model pack folder {str(chosen)!r} does not exist or is not a folder")
    return chosen


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (None if it cannot be told)."""
    current: type[BaseModel] = model
    for part in loc:
        if isinstance(part, int):
            continue  # list index: the item type is found from the field's annotation
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return None
        nested = [
            t
            for t in (field.annotation, *_type_args(field.annotation))
            if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        if not nested:
            return None
        current = nested[0]
    return current


def _type_args(tp: Any) -> list[Any]:
    out: list[Any] = []
    for arg in get_args(tp):
        out.append(arg)
        out.extend(_type_args(arg))
    return out


def _allowed_keys(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> str:
    parent = _model_at(model, loc[:-1]) if model is not None else None
    if parent is None:
        return ""
    keys = ", ".join(f.alias or n for n, f in parent.model_fields.items())
    return f"; allowed keys here: {keys}"


def format_validation_error(
    err: ValidationError, source: str, model: type[BaseModel] | None = None
) -> list[str]:
    """One line per problem: key path, the bad value, what is allowed.

    With ``model`` (the class that was validated), an unknown key also lists the keys
    that are allowed at that place.
    """
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        value = e.get("input")
        shown = "missing" if e["type"] == "missing" else repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        hint = _allowed_keys(model, tuple(e["loc"])) if e["type"] == "extra_forbidden" else ""
        lines.append(f"{source}: {path}: {e['msg']} (got {shown}){hint}")
    return lines


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}".replace("\n", " ")) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def load_model(cls: type[M], path: Path) -> M:
    """Parse ``path`` as ``cls``; a ConfigError lists every problem, one per line."""
    data = read_yaml(path)
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError("\n".join(format_validation_error(e, str(path), cls))) from None
