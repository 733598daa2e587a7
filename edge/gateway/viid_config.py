"""The ``viid:`` section of a gateway config: the endpoint smart cameras push to.

::

    viid:
      listen: 0.0.0.0:7070                 # host:port of the gateway's VIID endpoint
      devices:                              # one entry per camera (digest credentials)
        - device_id: "44030400001320000001"
          username: cam-east
          password_file: /etc/edgewatch/cam-east.password
    cameras:
      - id: cam-east
        source: viid:44030400001320000001   # this camera's pushed captures

Passwords live in their own files (mode 0600) and are never logged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from edge.config import Address, StrictModel
from edge.errors import ConfigError
from edge.viid.codes import IMAGE_TYPES
from edge.viid.ids import DEVICE_ID_PATTERN

VIID_SOURCE = re.compile(r"^viid:(\d{20})$", re.IGNORECASE)


class ViidDevice(StrictModel):
    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="the camera's 20 digits")
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$", description="its digest user")
    password_file: Path = Field(description="file holding its digest password (mode 0600)")


class ViidReceiverConfig(StrictModel):
    listen: Address = Field(default="0.0.0.0:7070", description="host:port; port 0 = any")
    realm: str = Field(default="edgewatch", pattern=r"^[A-Za-z0-9_.@ -]{1,64}$")
    devices: list[ViidDevice] = Field(min_length=1)
    nonce_ttl_s: float = Field(default=300.0, ge=10.0, le=86400.0)
    max_body_bytes: int = Field(default=32 << 20, ge=64 << 10, le=256 << 20)
    analyse_types: list[str] = Field(
        default_factory=lambda: ["14", "01", "10"],
        description="ImageTypes analysed as the scene (14 scene, 01 vehicle, 10 person); "
        "an object with none of them has all its images analysed",
    )
    queue_per_camera: int = Field(default=8, ge=1, le=1000, description="captures waiting")
    busy_timeout_s: float = Field(
        default=2.0, ge=0.0, le=60.0, description="wait for room before answering Device Busy"
    )
    analysis_timeout_s: float = Field(
        default=30.0, gt=0.0, le=600.0, description="longest wait for a capture's analysis"
    )
    utc_offset_minutes: int = Field(default=480, ge=-720, le=840, description="camera times")
    max_clock_skew_s: float = Field(
        default=300.0, ge=0.0, le=86400.0, description="beyond this the receive time is used"
    )

    @field_validator("analyse_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if t not in IMAGE_TYPES]
        if bad:
            raise ValueError(f"image types {bad} are not GA/T 1400.3 ImageTypes (01..14, 100)")
        return v

    @model_validator(mode="after")
    def _unique(self) -> ViidReceiverConfig:
        for what, values in (
            ("device_id", [d.device_id for d in self.devices]),
            ("username", [d.username for d in self.devices]),
        ):
            dupes = sorted({x for x in values if values.count(x) > 1})
            if dupes:
                raise ValueError(f"devices: duplicate {what} {dupes}")
        return self

    def device(self, device_id: str) -> ViidDevice | None:
        return next((d for d in self.devices if d.device_id == device_id), None)


def check_viid_cameras(viid: ViidReceiverConfig | None, sources: Sequence[tuple[str, str]]) -> None:
    """Every ``viid:`` camera source names a configured device (ValueError otherwise)."""
    for camera_id, uri in sources:
        if not uri.lower().startswith("viid:"):
            continue
        m = VIID_SOURCE.match(uri.strip())
        if m is None:
            raise ValueError(f"camera {camera_id}: source {uri!r} must be viid: + 20 digits")
        if viid is None:
            raise ValueError(f"camera {camera_id}: a viid: source needs the viid: section")
        if viid.device(m[1]) is None:
            known = [d.device_id for d in viid.devices]
            raise ValueError(f"camera {camera_id}: device {m[1]} is not in viid.devices {known}")


def load_passwords(config: ViidReceiverConfig) -> dict[str, str]:
    """username -> password; ConfigError naming the file (never its content)."""
    out = {}
    for i, d in enumerate(config.devices):
        try:
            text = d.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            reason = getattr(e, "strerror", None) or type(e).__name__
            raise ConfigError(
                f"viid.devices.{i}.password_file {str(d.password_file)!r} cannot be read: {reason}"
            ) from None
        if not text:
            raise ConfigError(f"viid.devices.{i}.password_file {str(d.password_file)!r} is empty")
        out[d.username] = text
    return out
