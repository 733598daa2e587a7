"""GA/T 1400 objects as frozen dataclasses, and their JSON as a platform reads it.

Field names follow GA/T 1400.3 (MotorVehicle, Face, SubImageInfo) and 1400.4
(ResponseStatus, the ``<Name>ListObject`` envelopes). ``Compat`` holds the settings
in which public platforms disagree (docs/viid.md): the content type, the envelope
name, how flags and numbers are typed, the similarity scale and the image type codes.

Image bytes are not held here: a ``SubImage`` names its JPEG by sha256 and its JSON
carries ``blob_marker(sha256)`` in ``Data`` until ``fill_images`` puts the base64 in
at send time, so a queued request is small and every retry sends identical bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from edge.viid.codes import (
    CONTENT_TYPE_VIID,
    ID_TYPE_FACE,
    IMAGE_FACE,
    IMAGE_PLATE,
    IMAGE_SCENE,
    IMAGE_VEHICLE,
    INFO_KIND_AUTO,
    PLATE_COLOR_CODES,
)

Envelope = Literal["ListObject", "ObjectList"]
Box = tuple[int, int, int, int]
BLOB_PREFIX = "blob:sha256:"


@dataclass(frozen=True, slots=True)
class Compat:
    """Where platforms differ; the defaults are the standard's text."""

    content_type: str = CONTENT_TYPE_VIID
    #: "ListObject": {"MotorVehicleListObject": {"MotorVehicleObject": [...]}} (1400.4
    #: collection resources); "ObjectList": {"MotorVehicleObjectList": {...}} as some
    #: platforms name it after the subscription notifications
    envelope: Envelope = "ListObject"
    #: HasPlate as "1"/"0" (digit) or true/false (boolean)
    has_plate: Literal["digit", "boolean"] = "digit"
    #: numeric fields (InfoKind, coordinates, Width, Height, EventSort) as JSON numbers
    #: or as strings (platforms whose parsers take every field as text)
    numbers: Literal["number", "string"] = "number"
    #: Similaritydegree as 0..1 (fraction) or 0..100 (percent)
    similarity: Literal["fraction", "percent"] = "fraction"
    file_format: str = "Jpeg"
    event_sort: int = 0
    face_type_code: str = ID_TYPE_FACE
    vehicle_scene_type: str = IMAGE_VEHICLE
    face_scene_type: str = IMAGE_SCENE
    face_image_type: str = IMAGE_FACE
    plate_image_type: str = IMAGE_PLATE
    plate_colors: Mapping[str, str] = field(default_factory=lambda: dict(PLATE_COLOR_CODES))
    utc_offset_minutes: int = 480


@dataclass(frozen=True, slots=True)
class SubImage:
    image_id: str
    type: str  # ImageType, e.g. "14" scene
    device_id: str
    shot_time: str  # yyyyMMddHHmmss
    width: int
    height: int
    sha256: str  # the JPEG, filled in as base64 when sent


@dataclass(frozen=True, slots=True)
class MotorVehicle:
    motor_vehicle_id: str
    source_id: str
    device_id: str
    pass_time: str
    plate_no: str
    plate_color: str  # colour code, "99" when unknown
    plate_reliability: int  # 0..100
    box: Box  # the plate's box in the scene (we detect plates, not whole vehicles)
    images: tuple[SubImage, ...]
    storage_url: str | None = None


@dataclass(frozen=True, slots=True)
class Face:
    face_id: str
    source_id: str
    device_id: str
    shot_time: str
    box: Box
    similarity: float  # 0..1, cosine similarity to the watchlist template
    images: tuple[SubImage, ...]


@dataclass(frozen=True, slots=True)
class ResponseStatus:
    """One answer of a ResponseStatusListObject (or a lone ResponseStatusObject)."""

    status_code: int
    status_string: str
    object_id: str  # "Id": the object the answer is about ("" when absent)
    request_url: str = ""
    local_time: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code == 0


def blob_marker(sha256: str) -> str:
    return BLOB_PREFIX + sha256


def _num(value: int, c: Compat) -> int | str:
    return str(value) if c.numbers == "string" else value


def sub_image_json(img: SubImage, c: Compat) -> dict[str, Any]:
    return {
        "ImageID": img.image_id,
        "EventSort": _num(c.event_sort, c),
        "DeviceID": img.device_id,
        "Type": img.type,
        "FileFormat": c.file_format,
        "ShotTime": img.shot_time,
        "Width": _num(img.width, c),
        "Height": _num(img.height, c),
        "Data": blob_marker(img.sha256),
    }


def _box_json(box: Box, c: Compat) -> dict[str, Any]:
    x1, y1, x2, y2 = box
    return {
        "LeftTopX": _num(x1, c),
        "LeftTopY": _num(y1, c),
        "RightBtmX": _num(x2, c),
        "RightBtmY": _num(y2, c),
    }


def _images_json(images: Sequence[SubImage], c: Compat) -> dict[str, Any]:
    return {"SubImageInfoObject": [sub_image_json(i, c) for i in images]}


def motor_vehicle_json(mv: MotorVehicle, c: Compat) -> dict[str, Any]:
    has_plate: bool | str = True if c.has_plate == "boolean" else "1"
    doc: dict[str, Any] = {
        "MotorVehicleID": mv.motor_vehicle_id,
        "InfoKind": _num(INFO_KIND_AUTO, c),
        "SourceID": mv.source_id,
        "DeviceID": mv.device_id,
        **_box_json(mv.box, c),
        "HasPlate": has_plate,
        "PlateColor": mv.plate_color,
        "PlateNo": mv.plate_no,
        "PlateReliability": str(mv.plate_reliability),
        "VehicleColor": "99",  # required by 1400.3; we do not classify vehicle colour
        "PassTime": mv.pass_time,
        "SubImageList": _images_json(mv.images, c),
    }
    if mv.storage_url:
        doc["StorageUrl1"] = mv.storage_url
    return doc


def face_json(f: Face, c: Compat) -> dict[str, Any]:
    sim = f.similarity * 100 if c.similarity == "percent" else f.similarity
    return {
        "FaceID": f.face_id,
        "InfoKind": _num(INFO_KIND_AUTO, c),
        "SourceID": f.source_id,
        "DeviceID": f.device_id,
        **_box_json(f.box, c),
        "ShotTime": f.shot_time,
        "FaceAppearTime": f.shot_time,
        "Similaritydegree": round(sim, 4),
        "SubImageList": _images_json(f.images, c),
    }


def envelope_name(name: str, c: Compat) -> str:
    """ "MotorVehicle" -> "MotorVehicleListObject" (or "MotorVehicleObjectList")."""
    return f"{name}ListObject" if c.envelope == "ListObject" else f"{name}ObjectList"


def list_body(name: str, objects: Sequence[Mapping[str, Any]], c: Compat) -> dict[str, Any]:
    return {envelope_name(name, c): {f"{name}Object": list(objects)}}


def fill_images(doc: Any, data: Callable[[str], bytes]) -> Any:
    """A copy of ``doc`` with every blob marker in ``Data`` replaced by base64 bytes."""
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            if k == "Data" and isinstance(v, str) and v.startswith(BLOB_PREFIX):
                out[k] = base64.b64encode(data(v[len(BLOB_PREFIX) :])).decode("ascii")
            else:
                out[k] = fill_images(v, data)
        return out
    if isinstance(doc, list):
        return [fill_images(v, data) for v in doc]
    return doc


def blob_refs(doc: Any) -> list[str]:
    """The sha256 of every image a queued request will carry."""
    if isinstance(doc, dict):
        found = []
        for k, v in doc.items():
            if k == "Data" and isinstance(v, str) and v.startswith(BLOB_PREFIX):
                found.append(v[len(BLOB_PREFIX) :])
            else:
                found.extend(blob_refs(v))
        return found
    if isinstance(doc, list):
        return [r for v in doc for r in blob_refs(v)]
    return []


def _status(d: Mapping[str, Any]) -> ResponseStatus:
    raw = d.get("StatusCode", 1)
    try:
        code = int(str(raw).strip())
    except ValueError:
        code = 1  # a status we cannot read is not a success
    return ResponseStatus(
        status_code=code,
        status_string=str(d.get("StatusString", ""))[:200],
        object_id=str(d.get("Id", d.get("ID", "")) or ""),
        request_url=str(d.get("RequestURL", ""))[:200],
        local_time=str(d.get("LocalTime", ""))[:20],
    )


def parse_statuses(doc: Any) -> list[ResponseStatus]:
    """Every ResponseStatusObject of an answer; [] when the answer holds none.

    Read liberally: ``ResponseStatusListObject.ResponseStatusObject`` as a list or a
    single object, or a lone ``ResponseStatusObject`` / ``ResponseStatus``; StatusCode
    as a number or a string.
    """
    if not isinstance(doc, dict):
        return []
    listed = doc.get("ResponseStatusListObject")
    if isinstance(listed, dict):
        items = listed.get("ResponseStatusObject", [])
        if isinstance(items, dict):
            items = [items]
        return [_status(i) for i in items if isinstance(i, dict)]
    for key in ("ResponseStatusObject", "ResponseStatus"):
        single = doc.get(key)
        if isinstance(single, dict):
            return [_status(single)]
    return []


def status_json(s: ResponseStatus) -> dict[str, Any]:
    return {
        "RequestURL": s.request_url,
        "StatusCode": s.status_code,
        "StatusString": s.status_string,
        "Id": s.object_id,
        "LocalTime": s.local_time,
    }


def status_list_json(statuses: Sequence[ResponseStatus]) -> dict[str, Any]:
    items = [status_json(s) for s in statuses]
    return {"ResponseStatusListObject": {"ResponseStatusObject": items}}
