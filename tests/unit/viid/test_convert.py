"""Our events as GA/T 1400 objects, compared with fixtures written from the standard."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from edge.evidence.model import BlobRef, FaceHit, MatchEvent, PlateHit
from edge.viid.convert import to_objects
from edge.viid.ids import image_sequence
from edge.viid.objects import (
    Compat,
    blob_refs,
    face_json,
    fill_images,
    list_body,
    motor_vehicle_json,
)

FIXTURES = Path(__file__).with_name("fixtures")
CAMERA = "44030400001320000001"
SIZES = {"scene.jpg": (1920, 1080), "face-0.jpg": (112, 112), "plate-0.jpg": (140, 44)}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


PLATE = PlateHit(
    "subj-7",
    "粤B12345",
    "粤B12345",
    "exact",
    0.97,
    "blue",
    (50.0, 40.0, 90.0, 55.0),
    "rec",
    "plate-0.jpg",
)


def linked_event() -> MatchEvent:
    return MatchEvent(
        event_id="0190c0de-0000-7000-8000-000000000001",
        gateway_id="gw-1",
        camera_id="cam-1",
        captured_at_us=1_750_000_001_000_000,  # 2025-06-15 23:06:41 in UTC+8
        sequence=1,
        prev_hash="0" * 64,
        faces=(FaceHit("subj-7", 0.61234, (10.6, 11.25, 40.0, 52.1), 0.8, "mbf", "face-0.jpg"),),
        plates=(PLATE,),
        blobs=(
            BlobRef("scene.jpg", "scene", "image/jpeg", "a" * 64, 100),
            BlobRef("face-0.jpg", "face_crop", "image/jpeg", "b" * 64, 10),
            BlobRef("plate-0.jpg", "plate_crop", "image/jpeg", "c" * 64, 10),
        ),
        models=(),
    )


def test_linked_event_gives_a_motor_vehicle_and_a_face_as_the_fixtures_say() -> None:
    c = Compat()
    objs = to_objects(linked_event(), CAMERA, SIZES, c)
    body_mv = list_body("MotorVehicle", [motor_vehicle_json(v, c) for v in objs.vehicles], c)
    body_face = list_body("Face", [face_json(f, c) for f in objs.faces], c)
    assert body_mv == fixture("motor_vehicles_push.json")
    assert body_face == fixture("faces_push.json")


def test_ids_are_composed_as_the_standard_says() -> None:
    e = linked_event()
    objs = to_objects(e, CAMERA, SIZES, Compat())
    mv, face = objs.vehicles[0], objs.faces[0]
    seq = f"{image_sequence(e.event_id):05d}"
    # SourceID: device (20) + "02" still image + shot time (14) + sequence (5)
    assert mv.source_id == f"{CAMERA}02" + "20250615230641" + seq
    assert len(mv.source_id) == 41 == len(face.source_id)
    # object IDs: SourceID + object type (02 motor vehicle, 06 face) + sequence (5)
    assert mv.motor_vehicle_id == mv.source_id + "0200001"
    assert face.face_id == face.source_id + "0600001"
    assert len(mv.motor_vehicle_id) == 48 == len(face.face_id)
    # the scene is the source image; the crops are images of their own
    assert mv.images[0].image_id == mv.source_id == face.images[0].image_id
    ids = [i.image_id for o in (mv, face) for i in o.images]
    assert len(set(ids)) == 3


def test_the_same_event_always_gives_the_same_objects() -> None:
    a = to_objects(linked_event(), CAMERA, SIZES, Compat())
    b = to_objects(linked_event(), CAMERA, SIZES, Compat())
    assert a == b
    other = dataclasses.replace(linked_event(), event_id="0190c0de-0000-7000-8000-000000000002")
    assert (
        to_objects(other, CAMERA, SIZES, Compat()).vehicles[0].source_id != a.vehicles[0].source_id
    )


def test_compat_switches_envelope_types_scale_and_flags() -> None:
    c = Compat(envelope="ObjectList", has_plate="boolean", numbers="string", similarity="percent")
    objs = to_objects(linked_event(), CAMERA, SIZES, c)
    mv = motor_vehicle_json(objs.vehicles[0], c)
    face = face_json(objs.faces[0], c)
    assert list(list_body("Face", [face], c)) == ["FaceObjectList"]
    assert mv["HasPlate"] is True and mv["InfoKind"] == "1" and mv["LeftTopX"] == "50"
    assert mv["SubImageList"]["SubImageInfoObject"][0]["Width"] == "1920"
    assert face["Similaritydegree"] == pytest.approx(61.234)


def test_plate_colours_map_to_colour_codes_and_unknown_is_other() -> None:
    e = linked_event()
    for color, code in (("yellow", "6"), ("green", "9"), (None, "99"), ("pink", "99")):
        p = dataclasses.replace(e.plates[0], color=color)
        objs = to_objects(dataclasses.replace(e, plates=(p,), faces=()), CAMERA, SIZES, Compat())
        assert objs.vehicles[0].plate_color == code


def test_images_go_in_as_base64_only_when_sent() -> None:
    c = Compat()
    objs = to_objects(linked_event(), CAMERA, SIZES, c)
    body = list_body("MotorVehicle", [motor_vehicle_json(objs.vehicles[0], c)], c)
    assert blob_refs(body) == ["a" * 64, "c" * 64]
    data = {"a" * 64: b"scene-bytes", "c" * 64: b"plate-bytes"}
    filled = fill_images(body, data.__getitem__)
    images = filled["MotorVehicleListObject"]["MotorVehicleObject"][0]["SubImageList"]
    got = [base64.b64decode(i["Data"]) for i in images["SubImageInfoObject"]]
    assert got == [b"scene-bytes", b"plate-bytes"]
    assert blob_refs(filled) == [] and blob_refs(body) == ["a" * 64, "c" * 64]  # copy


def test_an_event_without_a_scene_is_refused() -> None:
    e = linked_event()
    no_scene = dataclasses.replace(e, blobs=tuple(b for b in e.blobs if b.role != "scene"))
    with pytest.raises(ValueError, match="no scene"):
        to_objects(no_scene, CAMERA, SIZES, Compat())
