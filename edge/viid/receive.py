"""What a smart camera pushes (POST /VIID/MotorVehicles, /VIID/Faces, /VIID/Images),
read into small records: which device, which object, when, and its images (still
base64: only the pictures the gateway analyses are ever decoded).

Read liberally, because cameras differ (docs/viid.md): the envelope may be
``<Name>ListObject`` or ``<Name>ObjectList`` or absent (a bare object or list), an
image list may be ``{"SubImageInfoObject": [...]}`` or a bare list, numbers may come as
strings. What cannot be read raises ``PushFormatError`` with the status code the
camera should get back (7 invalid JSON format, 8 invalid JSON content).

The plate text or face attributes a camera computed itself are never read: the
gateway recognises the pictures with its own models, and a camera's own reading of a
non-matching plate must not end up anywhere.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from edge.viid.codes import STATUS_INVALID_JSON_CONTENT, STATUS_INVALID_JSON_FORMAT

Kind = Literal["MotorVehicle", "Face", "Image"]
KINDS: dict[str, Kind] = {"MotorVehicles": "MotorVehicle", "Faces": "Face", "Images": "Image"}


class PushFormatError(ValueError):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class PushedImage:
    image_id: str
    type: str
    shot_time: str
    data_b64: str


@dataclass(frozen=True, slots=True)
class PushedObject:
    kind: Kind
    object_id: str
    device_id: str  # "" when the object names none
    shot_time: str  # "" when absent
    images: tuple[PushedImage, ...]


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PushFormatError(f"body is not JSON: {e}", STATUS_INVALID_JSON_FORMAT) from None


def _items(value: Any, inner: str) -> list[dict[str, Any]]:
    """A list of objects from ``{inner: [...]}``, ``{inner: {...}}``, ``[...]`` or ``{...}``."""
    if isinstance(value, dict) and inner in value:
        value = value[inner]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PushFormatError(f"expected a list of {inner} objects", STATUS_INVALID_JSON_CONTENT)
    return value


def _objects(doc: Any, kind: Kind) -> list[dict[str, Any]]:
    if isinstance(doc, list):
        return _items(doc, f"{kind}Object")
    if not isinstance(doc, dict):
        raise PushFormatError("body must be a JSON object or list", STATUS_INVALID_JSON_CONTENT)
    for name in (f"{kind}ListObject", f"{kind}ObjectList", f"{kind}List"):
        if name in doc:
            inner = f"{kind}Object" if kind != "Image" else "Image"
            holder = doc[name]
            if kind == "Image" and isinstance(holder, dict) and "ImageObject" in holder:
                inner = "ImageObject"
            return _items(holder, inner)
    if f"{kind}Object" in doc:
        return _items(doc[f"{kind}Object"], f"{kind}Object")
    raise PushFormatError(
        f"body has no {kind}ListObject (keys: {', '.join(list(doc)[:5])})",
        STATUS_INVALID_JSON_CONTENT,
    )


def _text(d: dict[str, Any], key: str) -> str:
    v = d.get(key, "")
    return "" if v is None else str(v).strip()


def _image(d: dict[str, Any]) -> PushedImage:
    data = d.get("Data")
    if not isinstance(data, str) or not data:
        raise PushFormatError("an image carries no Data (base64)", STATUS_INVALID_JSON_CONTENT)
    t = _text(d, "Type")
    type_code = t.zfill(2) if t.isdigit() else t
    return PushedImage(_text(d, "ImageID"), type_code, _text(d, "ShotTime"), data)


def _sub_images(obj: dict[str, Any]) -> tuple[PushedImage, ...]:
    holder = obj.get("SubImageList")
    if holder in (None, "", []):
        return ()
    return tuple(_image(i) for i in _items(holder, "SubImageInfoObject"))


def _parse_object(kind: Kind, obj: dict[str, Any]) -> PushedObject:
    if kind == "Image":
        info = obj.get("ImageInfo", obj)
        if not isinstance(info, dict):
            raise PushFormatError("ImageInfo must be an object", STATUS_INVALID_JSON_CONTENT)
        img = _image({**info, "Data": obj.get("Data", info.get("Data"))})
        return PushedObject(kind, img.image_id, _text(info, "DeviceID"), img.shot_time, (img,))
    id_key = {"MotorVehicle": "MotorVehicleID", "Face": "FaceID"}[kind]
    time_key = "PassTime" if kind == "MotorVehicle" else "ShotTime"
    images = _sub_images(obj)
    shot = (
        _text(obj, time_key)
        or _text(obj, "FaceAppearTime")
        or next((i.shot_time for i in images if i.shot_time), "")
    )
    return PushedObject(kind, _text(obj, id_key), _text(obj, "DeviceID"), shot, images)


def parse_push(resource: str, body: bytes) -> list[PushedObject]:
    """The objects of one push to ``/VIID/<resource>``; PushFormatError if unreadable."""
    kind = KINDS.get(resource)
    if kind is None:
        raise PushFormatError(f"unknown resource {resource!r}", STATUS_INVALID_JSON_CONTENT)
    return [_parse_object(kind, o) for o in _objects(load_json(body), kind)]


def decode_image(img: PushedImage) -> bytes:
    """The picture's bytes; PushFormatError when Data is not base64."""
    data = img.data_b64
    if data.startswith("data:"):  # a data: URL, as some web-based senders do
        data = data.split(",", 1)[-1]
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise PushFormatError(
            f"image {img.image_id[:48]!r} Data is not base64", STATUS_INVALID_JSON_CONTENT
        ) from None


def device_of(doc: Any, key: str) -> str:
    """DeviceID of a Register/Keepalive/UnRegister body (``{"<key>": {"DeviceID": ...}}``)."""
    if isinstance(doc, dict):
        inner = doc.get(key, doc)
        if isinstance(inner, dict):
            return _text(inner, "DeviceID")
    return ""
