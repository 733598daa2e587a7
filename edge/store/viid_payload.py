"""What a queued push sends: the event's objects, built once from the stored event.

The objects' JSON is kept in the queue row with each image as a blob marker (its
sha256); the bytes are read from the blob store and put in as base64 only when the
request is sent. Blobs are content addressed, so every retry sends identical bytes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from edge.errors import NotFoundError
from edge.evidence.model import MatchEvent
from edge.store.blobs import BlobStore
from edge.store.repository import Repository
from edge.store.viid_config import ViidConfig
from edge.store.viid_queue import DELETE_PREFIX, PUSH_KINDS
from edge.viid import codes
from edge.viid.convert import to_objects
from edge.viid.objects import face_json, fill_images, list_body, motor_vehicle_json

_RESOURCE = {"MotorVehicle": codes.MOTOR_VEHICLES[0], "Face": codes.FACES[0]}


class HoldError(Exception):
    """The row cannot be built yet (e.g. its camera has no device code)."""


@dataclass(frozen=True, slots=True)
class Built:
    objects: list[dict[str, Any]]  # for a push; [] for a delete
    object_ids: list[str]


def kinds_of(event: MatchEvent) -> list[str]:
    """The push kinds an event needs: plates -> MotorVehicle, faces -> Face."""
    return [k for k, has in zip(PUSH_KINDS, (event.plates, event.faces), strict=True) if has]


def resource_of(kind: str) -> str:
    return _RESOURCE[kind.removeprefix(DELETE_PREFIX)]


def _sizes(event: MatchEvent, blobs: BlobStore) -> dict[str, tuple[int, int]]:
    out = {}
    for ref in event.blobs:
        try:
            with Image.open(io.BytesIO(blobs.get(ref.sha256))) as img:
                out[ref.name] = (int(img.width), int(img.height))
        except (UnidentifiedImageError, OSError, NotFoundError):
            out[ref.name] = (0, 0)
    return out


class PayloadBuilder:
    def __init__(
        self,
        config: ViidConfig,
        repo: Repository,
        blobs: BlobStore,
        evidence_url: Callable[[str], str | None],
    ) -> None:
        self._config = config
        self._repo = repo
        self._blobs = blobs
        self._evidence_url = evidence_url
        self._compat = config.compat.to_compat(config.utc_offset_minutes)

    def build(self, event_id: str, kind: str, delete_of: Sequence[str] = ()) -> Built:
        if kind.startswith(DELETE_PREFIX):
            return Built([], list(delete_of))
        stored = self._repo.events.get_event(event_id)
        if stored is None:
            raise NotFoundError(f"event {event_id} is no longer in the store (purged?)")
        e = stored.event
        device = self._config.device_of(e.gateway_id, e.camera_id)
        if device is None:
            raise HoldError(f"camera {e.gateway_id}/{e.camera_id} has no viid.cameras code")
        url = self._evidence_url(event_id) if self._config.evidence_links else None
        objs = to_objects(e, device, _sizes(e, self._blobs), self._compat, url)
        c = self._compat
        if kind == "MotorVehicle":
            return Built(
                [motor_vehicle_json(v, c) for v in objs.vehicles],
                [v.motor_vehicle_id for v in objs.vehicles],
            )
        return Built([face_json(f, c) for f in objs.faces], [f.face_id for f in objs.faces])

    def body(self, kind: str, objects: Sequence[dict[str, Any]]) -> bytes:
        """The request body of a batch of one kind, images filled in."""
        name = kind.removeprefix(DELETE_PREFIX)
        doc = fill_images(list_body(name, objects, self._compat), self._blobs.get)
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
