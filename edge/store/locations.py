"""Key locations (重要点位): named places watched by tagged cameras, with a schedule.

Configured in store.yaml::

    locations:
      - id: market-east
        name: 东门市场
        cameras: [gw-1/cam-1, gw-1/cam-2]      # gateway/camera; "gw-2/*" = every camera
        point: {lat: 22.5431, lon: 114.0579}  # or polygon: [[lat, lon], [lat, lon], ...]
        schedule:                             # when the place is watched (default: always)
          - {days: [mon, tue, wed, thu, fri], from: "07:00", to: "10:00"}
          - {days: [sat, sun], from: "06:00", to: "22:00"}

Schedules are in the deployment's local time (``web.utc_offset_minutes``; China has no
daylight saving, so a fixed offset is exact). A window whose ``to`` is before its
``from`` runs past midnight (into the next day). Everything here is pure.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config import StrictModel

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ID = r"[a-z0-9][a-z0-9_-]{0,63}"
#: a camera as gateway/camera; gateway/* is every camera of a gateway, * every camera
CAMERA_REF = rf"^(\*|{_ID}/(\*|{_ID}))$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
DAY_US = 86_400_000_000
MINUTE_US = 60_000_000


def _minutes(text: str) -> int:
    if not _HHMM.match(text):
        raise ValueError(f"{text!r} must be a time HH:MM between 00:00 and 24:00")
    h, m = text.split(":")
    return int(h) * 60 + int(m)


class Window(StrictModel):
    days: list[Day] = Field(default_factory=lambda: list(DAYS), min_length=1)
    start: str = Field(alias="from", description="HH:MM local time")
    end: str = Field(alias="to", description="HH:MM local time; before 'from' = past midnight")

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str) -> str:
        _minutes(v)
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if _minutes(self.start) == _minutes(self.end):
            raise ValueError(f"window from {self.start} to {self.end} is empty")
        return self

    def contains(self, weekday: int, minute: int) -> bool:
        """``weekday`` 0 = Monday, ``minute`` of the local day."""
        a, b = _minutes(self.start), _minutes(self.end)
        if a < b:
            return DAYS[weekday] in self.days and a <= minute < b
        # past midnight: the part after ``from`` belongs to the listed day, the part
        # before ``to`` to the day after it
        if minute >= a:
            return DAYS[weekday] in self.days
        return minute < b and DAYS[(weekday - 1) % 7] in self.days


def in_schedule(windows: Sequence[Window], captured_at_us: int, utc_offset_minutes: int) -> bool:
    """No windows = always."""
    if not windows:
        return True
    local = captured_at_us + utc_offset_minutes * MINUTE_US
    days, rest = divmod(local, DAY_US)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    minute = rest // MINUTE_US
    return any(w.contains(int(weekday), int(minute)) for w in windows)


class Point(StrictModel):
    lat: float = Field(ge=-90.0, le=90.0)
    lon: float = Field(ge=-180.0, le=180.0)


class KeyLocation(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=100)
    cameras: list[str] = Field(min_length=1, description="gateway/camera, or gateway/*")
    point: Point | None = None
    polygon: list[tuple[float, float]] | None = Field(
        default=None, description="[[lat, lon], ...], at least 3 corners"
    )
    schedule: list[Window] = Field(default_factory=list, description="empty = always")

    @field_validator("cameras")
    @classmethod
    def _cameras(cls, v: list[str]) -> list[str]:
        for ref in v:
            if not re.match(CAMERA_REF, ref):
                raise ValueError(f"camera {ref!r} must be gateway/camera, gateway/* or *")
        return v

    @model_validator(mode="after")
    def _shape(self) -> KeyLocation:
        if (self.point is None) == (self.polygon is None):
            raise ValueError("give exactly one of point or polygon")
        if self.polygon is not None:
            if len(self.polygon) < 3:
                raise ValueError("a polygon needs at least 3 corners")
            for lat, lon in self.polygon:
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise ValueError(f"corner {[lat, lon]} is not a latitude, longitude")
        return self

    def covers(self, gateway_id: str, camera_id: str) -> bool:
        return any(fnmatch.fnmatchcase(f"{gateway_id}/{camera_id}", c) for c in self.cameras)

    @property
    def center(self) -> tuple[float, float]:
        if self.point is not None:
            return self.point.lat, self.point.lon
        assert self.polygon is not None
        return (
            sum(p[0] for p in self.polygon) / len(self.polygon),
            sum(p[1] for p in self.polygon) / len(self.polygon),
        )


def locations_of(
    locations: Sequence[KeyLocation], gateway_id: str, camera_id: str
) -> list[KeyLocation]:
    return [loc for loc in locations if loc.covers(gateway_id, camera_id)]


def check_unique(locations: Sequence[KeyLocation]) -> None:
    ids = [loc.id for loc in locations]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"locations: duplicate ids {dupes}")
