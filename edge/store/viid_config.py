"""The ``viid:`` section of store.yaml: the bureau's GA/T 1400 platform.

::

    viid:
      url: http://10.0.0.5:8120             # the platform's VIID base URL
      device_id: "44120000005030000001"     # 20 digits: this store at the platform
      username: edgewatch
      password_file: /etc/edgewatch/viid.password
      push: confirmed                       # confirmed | all | rules
      keepalive_interval_s: 60
      cameras:                              # each camera's 20-digit device code
        gw-1/cam-1: "44030400001320000001"
      compat:                               # where platforms differ (docs/viid.md)
        content_type: application/VIID+JSON # or application/json
        envelope: ListObject                # or ObjectList

The password lives in its own file (mode 0600), never in the YAML and never in a log.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config import StrictModel
from edge.errors import ConfigError
from edge.viid.codes import (
    CONTENT_TYPE_JSON,
    CONTENT_TYPE_VIID,
    IMAGE_FACE,
    IMAGE_PLATE,
    IMAGE_SCENE,
    IMAGE_TYPES,
    IMAGE_VEHICLE,
    PLATE_COLOR_CODES,
)
from edge.viid.ids import DEVICE_ID_PATTERN
from edge.viid.objects import Compat

_CAMERA = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}/[a-z0-9][a-z0-9_-]{0,63}$")
PushMode = Literal["confirmed", "all", "rules"]


class ViidCompat(StrictModel):
    content_type: Literal["application/VIID+JSON", "application/json"] = Field(
        default=CONTENT_TYPE_VIID, description=f"{CONTENT_TYPE_VIID} or {CONTENT_TYPE_JSON}"
    )
    envelope: Literal["ListObject", "ObjectList"] = Field(
        default="ListObject", description="MotorVehicleListObject or MotorVehicleObjectList"
    )
    has_plate: Literal["digit", "boolean"] = Field(default="digit", description='"1" or true')
    numbers: Literal["number", "string"] = Field(
        default="number", description="InfoKind, coordinates, Width/Height as numbers or text"
    )
    similarity: Literal["fraction", "percent"] = Field(
        default="fraction", description="Similaritydegree 0..1 or 0..100"
    )
    file_format: str = Field(default="Jpeg", pattern=r"^[A-Za-z]{2,8}$")
    event_sort: int = Field(default=0, ge=0, le=9999, description="SubImageInfo.EventSort")
    face_type_code: str = Field(default="06", pattern=r"^\d{2}$", description="in FaceID")
    vehicle_scene_type: str = Field(default=IMAGE_VEHICLE, description="ImageType of the scene")
    face_scene_type: str = Field(default=IMAGE_SCENE)
    face_image_type: str = Field(default=IMAGE_FACE)
    plate_image_type: str = Field(default=IMAGE_PLATE)
    plate_colors: dict[str, str] = Field(
        default_factory=lambda: dict(PLATE_COLOR_CODES),
        description="plate reader colour -> colour code",
    )
    on_reject: Literal["delete", "none"] = Field(
        default="delete",
        description="when a reviewer rejects a pushed match: DELETE its objects, or nothing",
    )

    @field_validator("vehicle_scene_type", "face_scene_type", "face_image_type", "plate_image_type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in IMAGE_TYPES:
            raise ValueError(f"image type {v!r} must be one of 01..14 or 100 (GA/T 1400.3)")
        return v

    def to_compat(self, utc_offset_minutes: int) -> Compat:
        return Compat(
            content_type=self.content_type,
            envelope=self.envelope,
            has_plate=self.has_plate,
            numbers=self.numbers,
            similarity=self.similarity,
            file_format=self.file_format,
            event_sort=self.event_sort,
            face_type_code=self.face_type_code,
            vehicle_scene_type=self.vehicle_scene_type,
            face_scene_type=self.face_scene_type,
            face_image_type=self.face_image_type,
            plate_image_type=self.plate_image_type,
            plate_colors=dict(self.plate_colors),
            utc_offset_minutes=utc_offset_minutes,
        )


class ViidConfig(StrictModel):
    url: str = Field(description="the platform's base URL, e.g. http://10.0.0.5:8120")
    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="20 digits: this store's ID")
    username: str = Field(min_length=1, max_length=64)
    password_file: Path = Field(description="file holding the digest password (mode 0600)")
    push: PushMode = Field(
        default="confirmed",
        description="confirmed: when a reviewer confirms; all: every match at ingest; "
        "rules: only what dispatch rules with action viid send",
    )
    keepalive_interval_s: float = Field(default=60.0, ge=5.0, le=3600.0)
    timeout_s: float = Field(default=15.0, gt=0.0, le=300.0, description="per request")
    backoff_initial_s: float = Field(default=2.0, ge=0.01, le=3600.0)
    backoff_max_s: float = Field(default=300.0, ge=0.01, le=86400.0)
    batch: int = Field(default=16, ge=1, le=256, description="most objects per request")
    cameras: dict[str, str] = Field(
        default_factory=dict, description="gateway/camera -> the camera's 20-digit device code"
    )
    unknown_camera: Literal["store_device", "hold"] = Field(
        default="store_device",
        description="a camera without a code: use device_id, or hold its pushes until one "
        "is configured",
    )
    evidence_links: bool = Field(
        default=False, description="send StorageUrl1 = the event's page on the review web"
    )
    utc_offset_minutes: int = Field(
        default=480, ge=-720, le=840, description="local time zone of GA/T 1400 times"
    )
    compat: ViidCompat = ViidCompat()

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", v):
            raise ValueError("must be an http:// or https:// base URL, e.g. http://10.0.0.5:8120")
        return v.rstrip("/")

    @field_validator("cameras")
    @classmethod
    def _cameras(cls, v: dict[str, str]) -> dict[str, str]:
        for cam, code in v.items():
            if not _CAMERA.match(cam):
                raise ValueError(f"camera {cam!r} must be gateway/camera (ids)")
            if not re.match(DEVICE_ID_PATTERN, code):
                raise ValueError(f"device code of {cam} {code!r} must be 20 digits")
        return v

    @model_validator(mode="after")
    def _backoff(self) -> ViidConfig:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        return self

    def device_of(self, gateway_id: str, camera_id: str) -> str | None:
        code = self.cameras.get(f"{gateway_id}/{camera_id}")
        if code is None and self.unknown_camera == "store_device":
            return self.device_id
        return code


def load_password(config: ViidConfig) -> str:
    try:
        text = config.password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise ConfigError(
            f"viid.password_file {str(config.password_file)!r} cannot be read: {reason}"
        ) from None
    if not text:
        raise ConfigError(f"viid.password_file {str(config.password_file)!r} is empty")
    return text
