"""A GA/T 1400 smart camera simulator: real HTTP pushes with digest authentication
(httpx.DigestAuth, an implementation independent of ours), as a camera would send them."""

from __future__ import annotations

import base64
import itertools
import time
from pathlib import Path
from typing import Any

import httpx

_seq = itertools.count(1)


class Camera:
    def __init__(self, base_url: str, device_id: str, username: str, password: str) -> None:
        self.device_id = device_id
        self.http = httpx.Client(
            base_url=base_url,
            auth=httpx.DigestAuth(username, password),
            headers={"User-Identify": device_id, "Content-Type": "application/VIID+JSON"},
            timeout=120.0,
            trust_env=False,
        )

    def close(self) -> None:
        self.http.close()

    def system(self, action: str) -> Any:
        key = {"Register": "RegisterObject", "Keepalive": "KeepaliveObject",
               "UnRegister": "UnRegisterObject"}[action]  # fmt: skip
        r = self.http.post(f"/VIID/System/{action}", json={key: {"DeviceID": self.device_id}})
        r.raise_for_status()
        return r.json()

    def _ids(self) -> tuple[str, str, str]:
        shot = time.strftime("%Y%m%d%H%M%S")
        source = f"{self.device_id}02{shot}{next(_seq) % 100000:05d}"
        return shot, source, source

    def motor_vehicle(self, picture: Path, camera_plate: str = "") -> dict[str, Any]:
        """One vehicle capture; ``camera_plate`` is the camera's own reading (ignored)."""
        shot, source, image = self._ids()
        data = base64.b64encode(picture.read_bytes()).decode()
        return {
            "MotorVehicleID": f"{source}0200001",
            "InfoKind": 1,
            "SourceID": source,
            "DeviceID": self.device_id,
            "HasPlate": "1",
            "PlateNo": camera_plate,
            "PassTime": shot,
            "SubImageList": {"SubImageInfoObject": [
                {"ImageID": image, "Type": "01", "FileFormat": "Jpeg", "ShotTime": shot,
                 "DeviceID": self.device_id, "Data": data},
            ]},
        }  # fmt: skip

    def face(self, picture: Path) -> dict[str, Any]:
        shot, source, image = self._ids()
        data = base64.b64encode(picture.read_bytes()).decode()
        return {
            "FaceID": f"{source}0600001",
            "InfoKind": 1,
            "SourceID": source,
            "DeviceID": self.device_id,
            "ShotTime": shot,
            "SubImageList": {"SubImageInfoObject": [
                {"ImageID": image, "Type": "14", "FileFormat": "Jpeg", "ShotTime": shot,
                 "DeviceID": self.device_id, "Data": data},
            ]},
        }  # fmt: skip

    def push(self, name: str, objects: list[dict[str, Any]]) -> list[int]:
        """POST ``/VIID/<name>s``; the StatusCode of each object."""
        body = {f"{name}ListObject": {f"{name}Object": objects}}
        r = self.http.post(f"/VIID/{name}s", json=body)
        r.raise_for_status()
        items = r.json()["ResponseStatusListObject"]["ResponseStatusObject"]
        return [int(i["StatusCode"]) for i in items]
