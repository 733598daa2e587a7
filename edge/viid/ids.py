"""GA/T 1400 identifiers and times.

* A device/system ID is 20 decimal digits (centre code 8, trade 2, type 3, serial 7).
* An image's ID (and so an object's SourceID, the image it was found in) is 41
  characters: the capturing device's 20 digits, the type of the source ("02" a still
  image), the shot time as yyyyMMddHHmmss, and a 5-digit sequence within that second.
* An analysed object's ID (MotorVehicleID, FaceID, ...) is 48 characters: its
  SourceID, the object type ("02" motor vehicle, "06" face) and a 5-digit sequence.
* Times are local wall-clock time without zone, yyyyMMddHHmmss (some cameras append
  three digits of milliseconds; both are read).

The sequence of an event's images is derived from its event id, so a retried push
carries the very same IDs (a platform keys objects by ID: a resend is not a second
capture).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone

from edge.viid.codes import ID_TYPE_IMAGE

DEVICE_ID_PATTERN = r"^\d{20}$"
_DEVICE = re.compile(DEVICE_ID_PATTERN)
_TIME = re.compile(r"^\d{14}(\d{3})?$")
SEQ_SPACE = 100_000


class ViidFormatError(ValueError):
    """A value that GA/T 1400 does not allow (the message names it and the rule)."""


def check_device_id(value: str, what: str = "device id") -> str:
    if not _DEVICE.match(value):
        raise ViidFormatError(f"{what} {value[:40]!r} must be 20 digits, e.g. 44120000001190000001")
    return value


def _tz(utc_offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=utc_offset_minutes))


def format_time(us: int, utc_offset_minutes: int) -> str:
    """UTC microseconds -> local yyyyMMddHHmmss."""
    return datetime.fromtimestamp(us / 1e6, _tz(utc_offset_minutes)).strftime("%Y%m%d%H%M%S")


def parse_time(text: str, utc_offset_minutes: int) -> int:
    """Local yyyyMMddHHmmss[SSS] -> UTC microseconds; ViidFormatError when malformed."""
    t = str(text).strip()
    if not _TIME.match(t):
        raise ViidFormatError(f"time {t[:30]!r} must be yyyyMMddHHmmss (14 digits)")
    try:
        local = datetime.strptime(t[:14], "%Y%m%d%H%M%S").replace(tzinfo=_tz(utc_offset_minutes))
    except ValueError:
        raise ViidFormatError(f"time {t!r} is not a calendar date and time") from None
    millis = int(t[14:] or 0)
    return int(local.astimezone(UTC).timestamp()) * 1_000_000 + millis * 1000


def image_sequence(event_id: str) -> int:
    """A 5-digit sequence fixed by the event id (stable across retries)."""
    return int(hashlib.sha256(event_id.encode()).hexdigest()[:12], 16) % SEQ_SPACE


def image_id(device_id: str, shot: str, seq: int) -> str:
    """The 41-character ID of a still image taken by ``device_id`` at ``shot``."""
    check_device_id(device_id)
    if len(shot) != 14 or not shot.isdigit():
        raise ViidFormatError(f"shot time {shot!r} must be yyyyMMddHHmmss")
    return f"{device_id}{ID_TYPE_IMAGE}{shot}{seq % SEQ_SPACE:05d}"


def object_id(source_id: str, type_code: str, seq: int) -> str:
    """The 48-character ID of an object found in the image ``source_id``."""
    if len(source_id) != 41 or not source_id.isdigit():
        raise ViidFormatError(f"source id {source_id[:50]!r} must be 41 digits")
    if len(type_code) != 2 or not type_code.isdigit():
        raise ViidFormatError(f"object type {type_code!r} must be 2 digits")
    return f"{source_id}{type_code}{seq % SEQ_SPACE:05d}"
