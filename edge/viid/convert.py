"""Our match events as GA/T 1400 objects (pure: the caller supplies image sizes).

A plate hit becomes a MotorVehicle, a face hit a Face; a linked event gives both,
each carrying the privacy-filtered scene (its SourceID: the image the object was found
in) and its own crop. IDs are composed from the camera's 20-digit device code, the
capture time and a sequence fixed by the event id (edge/viid/ids.py), so the same
event always becomes the same objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge.evidence.model import BlobRef, MatchEvent
from edge.viid.codes import COLOR_OTHER, ID_TYPE_MOTOR_VEHICLE
from edge.viid.ids import format_time, image_id, image_sequence, object_id
from edge.viid.objects import Box, Compat, Face, MotorVehicle, SubImage

#: (width, height) of each blob of the event, by blob name
Sizes = Mapping[str, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class ViidObjects:
    vehicles: tuple[MotorVehicle, ...]
    faces: tuple[Face, ...]


def _box(b: tuple[float, float, float, float]) -> Box:
    x1, y1, x2, y2 = (max(0, round(v)) for v in b)
    return x1, y1, x2, y2


class _Images:
    """Hands out the event's SubImages with IDs in one sequence per event."""

    def __init__(self, event: MatchEvent, device_id: str, sizes: Sizes, c: Compat) -> None:
        self._device = device_id
        self._sizes = sizes
        self._shot = format_time(event.captured_at_us, c.utc_offset_minutes)
        self._seq = image_sequence(event.event_id)
        self._next = 1
        scene = next((b for b in event.blobs if b.role == "scene"), None)
        if scene is None:
            raise ValueError(f"event {event.event_id} has no scene image")
        self.scene = scene
        self.source_id = image_id(device_id, self._shot, self._seq)

    @property
    def shot(self) -> str:
        return self._shot

    def _sub(self, ref: BlobRef, type_code: str, image_id_: str) -> SubImage:
        w, h = self._sizes.get(ref.name, (0, 0))
        return SubImage(image_id_, type_code, self._device, self._shot, w, h, ref.sha256)

    def scene_image(self, type_code: str) -> SubImage:
        return self._sub(self.scene, type_code, self.source_id)

    def crop(self, ref: BlobRef, type_code: str) -> SubImage:
        iid = image_id(self._device, self._shot, self._seq + self._next)
        self._next += 1
        return self._sub(ref, type_code, iid)


def to_objects(
    event: MatchEvent,
    device_id: str,
    sizes: Sizes,
    c: Compat,
    storage_url: str | None = None,
) -> ViidObjects:
    """The MotorVehicle and Face objects of ``event`` as seen by camera ``device_id``."""
    blobs = {b.name: b for b in event.blobs}
    imgs = _Images(event, device_id, sizes, c)
    vehicles = []
    for i, p in enumerate(event.plates, start=1):
        images = [imgs.scene_image(c.vehicle_scene_type)]
        if p.crop in blobs:
            images.append(imgs.crop(blobs[p.crop], c.plate_image_type))
        vehicles.append(
            MotorVehicle(
                motor_vehicle_id=object_id(imgs.source_id, ID_TYPE_MOTOR_VEHICLE, i),
                source_id=imgs.source_id,
                device_id=device_id,
                pass_time=imgs.shot,
                plate_no=p.text,
                plate_color=c.plate_colors.get(p.color or "", COLOR_OTHER),
                plate_reliability=max(0, min(100, round(p.confidence * 100))),
                box=_box(p.box),
                images=tuple(images),
                storage_url=storage_url,
            )
        )
    faces = []
    for i, f in enumerate(event.faces, start=1):
        images = [imgs.scene_image(c.face_scene_type)]
        if f.crop in blobs:
            images.append(imgs.crop(blobs[f.crop], c.face_image_type))
        faces.append(
            Face(
                face_id=object_id(imgs.source_id, c.face_type_code, i),
                source_id=imgs.source_id,
                device_id=device_id,
                shot_time=imgs.shot,
                box=_box(f.box),
                similarity=max(0.0, min(1.0, f.similarity)),
                images=tuple(images),
            )
        )
    return ViidObjects(tuple(vehicles), tuple(faces))
