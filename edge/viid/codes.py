"""Codes of GA/T 1400 used here (part 3 data, part 4 protocol), by their meaning.

Where public implementations disagree (docs/viid.md), the value here is the one the
standard's text gives; the settings in ``edge.viid.objects.Compat`` switch to what a
particular platform expects.
"""

from __future__ import annotations

from typing import Final

#: ResponseStatusObject.StatusCode (GA/T 1400.4 appendix, "ConfirmStatusType")
STATUS_OK: Final = 0
STATUS_OTHER_ERROR: Final = 1
STATUS_DEVICE_BUSY: Final = 2
STATUS_DEVICE_ERROR: Final = 3
STATUS_INVALID_OPERATION: Final = 4
STATUS_INVALID_JSON_FORMAT: Final = 7
STATUS_INVALID_JSON_CONTENT: Final = 8
STATUS_REBOOT: Final = 9
STATUS_TEXT: Final[dict[int, str]] = {
    0: "OK",
    1: "OtherError",
    2: "Device Busy",
    3: "Device Error",
    4: "Invalid Operation",
    5: "Invalid XML Format",
    6: "Invalid XML Content",
    7: "Invalid JSON Format",
    8: "Invalid JSON Content",
    9: "Reboot",
}
#: answers that say "this object will never be accepted as sent" (retrying is useless)
PERMANENT_STATUS: Final = frozenset({4, 5, 6, 7, 8})

#: InfoKind (信息分类): 0 other, 1 automatic capture, 2 manual
INFO_KIND_AUTO: Final = 1

#: ImageType (GA/T 1400.3): the SubImageInfo.Type values we send or read
IMAGE_VEHICLE: Final = "01"  # 车辆大图
IMAGE_PLATE: Final = "02"  # 车牌彩色小图
IMAGE_VEHICLE_CLOSEUP: Final = "09"  # 车辆特写图
IMAGE_PERSON: Final = "10"  # 人员图
IMAGE_FACE: Final = "11"  # 人脸图
IMAGE_SCENE: Final = "14"  # 场景图
IMAGE_GENERAL: Final = "100"  # 一般图片
IMAGE_TYPES: Final = frozenset({f"{i:02d}" for i in range(1, 15)} | {IMAGE_GENERAL})

#: the two-digit type inside composed IDs: what the identified thing is
ID_TYPE_IMAGE: Final = "02"  # a source ID names a still image (01 video, 03 file)
ID_TYPE_MOTOR_VEHICLE: Final = "02"
ID_TYPE_FACE: Final = "06"

#: PlateColor / VehicleColor use the colour code table (1 black, 2 white, 5 blue,
#: 6 yellow, 9 green, 99 other); the keys are our plate reader's colour labels
PLATE_COLOR_CODES: Final[dict[str, str]] = {
    "black": "1",
    "white": "2",
    "blue": "5",
    "yellow": "6",
    "green": "9",
}
COLOR_OTHER: Final = "99"

#: the object collections of GA/T 1400.4: resource path, list envelope, object name
MOTOR_VEHICLES: Final = ("/VIID/MotorVehicles", "MotorVehicle")
FACES: Final = ("/VIID/Faces", "Face")
IMAGES: Final = ("/VIID/Images", "Image")
REGISTER_PATH: Final = "/VIID/System/Register"
KEEPALIVE_PATH: Final = "/VIID/System/Keepalive"
UNREGISTER_PATH: Final = "/VIID/System/UnRegister"
TIME_PATH: Final = "/VIID/System/Time"

CONTENT_TYPE_VIID: Final = "application/VIID+JSON"
CONTENT_TYPE_JSON: Final = "application/json"
USER_IDENTIFY: Final = "User-Identify"
