"""What cameras push, read liberally; the camera's own readings are never kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.viid.receive import PushFormatError, decode_image, device_of, parse_push

FIXTURES = Path(__file__).with_name("fixtures")


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_motor_vehicles_with_the_standard_envelope() -> None:
    [obj] = parse_push("MotorVehicles", body("camera_motor_vehicles.json"))
    assert obj.kind == "MotorVehicle" and obj.device_id == "44030400001320000002"
    assert obj.object_id.endswith("0200001") and obj.shot_time == "20250615230641"
    assert [i.type for i in obj.images] == ["01", "02"]  # "2" padded to the code "02"
    assert [decode_image(i) for i in obj.images] == [b"hello", b"world"]
    # the camera's own plate reading is not part of what we keep
    assert "粤B99999" not in repr(obj)


def test_a_bare_face_object_with_a_bare_image_list_and_milliseconds() -> None:
    [obj] = parse_push("Faces", body("camera_faces_bare.json"))
    assert obj.kind == "Face" and obj.shot_time == "20250615230641123"
    assert [i.type for i in obj.images] == ["14", "11"]


def test_images_resource() -> None:
    [obj] = parse_push("Images", body("camera_images.json"))
    assert obj.kind == "Image" and obj.device_id == "44030400001320000002"
    assert decode_image(obj.images[0]) == b"hello" and obj.images[0].type == "14"


@pytest.mark.parametrize(
    ("resource", "payload", "code"),
    [
        ("Faces", b"{not json", 7),
        ("Faces", b'{"PersonListObject": {}}', 8),
        ("Faces", b'{"FaceListObject": {"FaceObject": "x"}}', 8),
        ("Faces", b'{"FaceObject": {"FaceID": "1", "SubImageList": [{"Type": "11"}]}}', 8),
        ("Things", b"{}", 8),
    ],
)
def test_unreadable_pushes_say_which_status_the_camera_gets(
    resource: str, payload: bytes, code: int
) -> None:
    with pytest.raises(PushFormatError) as e:
        parse_push(resource, payload)
    assert e.value.status_code == code


def test_register_bodies_name_their_device() -> None:
    assert device_of({"RegisterObject": {"DeviceID": "1" * 20}}, "RegisterObject") == "1" * 20
    assert device_of({"DeviceID": "2" * 20}, "KeepaliveObject") == "2" * 20
    assert device_of([], "KeepaliveObject") == ""
