"""The gateway's VIID endpoint as an ASGI app (Starlette): what a smart camera talks to.

Routes (GA/T 1400.4): ``POST /VIID/System/Register``, ``/Keepalive``, ``/UnRegister``,
``GET /VIID/System/Time``, and ``POST /VIID/MotorVehicles``, ``/Faces``, ``/Images``.
Every request needs digest credentials of a configured camera (edge/viid/digest.py);
``User-Identify`` and the DeviceIDs in a body must be that camera's. Answers are
ResponseStatus objects: 0 accepted, 2 busy (send again later), 4 not allowed,
7/8 unreadable. Pictures are decoded in a worker thread and handed to the camera's
source; nothing is written and nothing a camera sent is logged beyond counts.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge.errors import InputError
from edge.imageio import decode_image as decode_picture
from edge.viid import codes
from edge.viid.digest import DigestVerifier
from edge.viid.ids import ViidFormatError, parse_time
from edge.viid.objects import ResponseStatus, status_json, status_list_json
from edge.viid.receive import (
    PushedImage,
    PushedObject,
    PushFormatError,
    decode_image,
    device_of,
    load_json,
    parse_push,
)
from edge.vision.types import Image

if TYPE_CHECKING:
    from edge.gateway.viid_source import ViidReceiver, ViidSource

log = logging.getLogger(__name__)

MEDIA = f"{codes.CONTENT_TYPE_VIID};charset=UTF-8"
_SYSTEM_KEYS = {
    "Register": "RegisterObject",
    "Keepalive": "KeepaliveObject",
    "UnRegister": "UnRegisterObject",
}


def _now_text() -> str:
    return datetime.now().strftime("%Y%m%d%H%M%S")


def _status(url: str, code: int, oid: str, text: str = "") -> ResponseStatus:
    return ResponseStatus(code, text or codes.STATUS_TEXT.get(code, ""), oid, url, _now_text())


def _answer(doc: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(doc, status_code=status_code, media_type=MEDIA)


def _single(s: ResponseStatus, status_code: int = 200) -> JSONResponse:
    return _answer({"ResponseStatusObject": status_json(s)}, status_code)


class _Endpoint:
    def __init__(
        self, receiver: ViidReceiver, verifier: DigestVerifier, passwords: dict[str, str]
    ) -> None:
        self._receiver = receiver
        self._verifier = verifier
        self._passwords = passwords
        cfg = receiver.config
        self._device_of_user = {d.username: d.device_id for d in cfg.devices}

    # --- authentication ---------------------------------------------------------------

    def _auth(self, request: Request) -> tuple[str, Response | None]:
        """The authenticated camera's device id, or the answer that refuses the request."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        got = self._verifier.verify(
            request.method, target, request.headers.get("authorization"), self._passwords.get
        )
        if not got.ok or got.username is None:
            if got.reason != "no digest credentials":
                log.warning("viid authentication refused", extra={"reason": got.reason})
            challenge = {"WWW-Authenticate": self._verifier.challenge(stale=got.stale)}
            return "", Response(status_code=401, headers=challenge)
        device = self._device_of_user[got.username]
        claimed = request.headers.get(codes.USER_IDENTIFY, device)
        if claimed != device:
            text = f"User-Identify {claimed[:20]!r} is not this camera's device id"
            return device, _answer(status_list_json([_status(target, 4, claimed[:20], text)]), 403)
        return device, None

    # --- system -----------------------------------------------------------------------

    async def system(self, request: Request) -> Response:
        device, refused = self._auth(request)
        if refused is not None:
            return refused
        action = request.path_params["action"]
        key = _SYSTEM_KEYS.get(action)
        if key is None:
            return _answer(
                {"ResponseStatusObject": status_json(_status(request.url.path, 4, ""))}, 404
            )
        try:
            named = device_of(load_json(await request.body()), key)
        except PushFormatError:
            named = ""
        src = self._receiver.source_of(device)
        code = 0
        if named and named != device:
            code = codes.STATUS_INVALID_OPERATION
        elif src is not None:
            src.registered = action != "UnRegister"
            src.last_seen_us = time.time_ns() // 1000
        log.info("viid camera", extra={"device": device, "action": action, "status": code})
        return _answer(
            {"ResponseStatusObject": status_json(_status(request.url.path, code, device))}
        )

    async def system_time(self, request: Request) -> Response:
        _, refused = self._auth(request)
        if refused is not None:
            return refused
        offset = self._receiver.config.utc_offset_minutes
        return _answer(
            {
                "SystemTimeObject": {
                    "VIIDServerID": "",
                    "TimeMode": "1",
                    "LocalTime": _now_text(),
                    "TimeZone": f"UTC{offset // 60:+d}",
                }
            }
        )

    # --- captures ---------------------------------------------------------------------

    async def push(self, request: Request) -> Response:
        device, refused = self._auth(request)
        if refused is not None:
            return refused
        url = request.url.path
        limit = self._receiver.config.max_body_bytes
        if int(request.headers.get("content-length") or 0) > limit:
            return _answer(status_list_json([_status(url, 8, "", f"body over {limit} bytes")]), 413)
        body = await request.body()
        if len(body) > limit:
            return _answer(status_list_json([_status(url, 8, "", f"body over {limit} bytes")]), 413)
        statuses = await run_in_threadpool(self._accept, device, url, body)
        return _answer(status_list_json(statuses))

    def _accept(self, device: str, url: str, body: bytes) -> list[ResponseStatus]:
        resource = url.rsplit("/", 1)[-1]
        try:
            objects = parse_push(resource, body)
        except PushFormatError as e:
            return [_status(url, e.status_code, "", str(e)[:200])]
        src = self._receiver.source_of(device)
        out = []
        for obj in objects:
            if src is None or (obj.device_id and obj.device_id != device):
                out.append(_status(url, 4, obj.object_id, "not a camera of this gateway"))
                continue
            out.append(_status(url, self._take(src, obj), obj.object_id))
        accepted = sum(s.ok for s in out)
        log.debug("viid push", extra={"device": device, "objects": len(out), "accepted": accepted})
        return out

    def _pictures(self, obj: PushedObject) -> list[PushedImage]:
        wanted = self._receiver.config.analyse_types
        scenes = [i for i in obj.images if i.type in wanted]
        return scenes or list(obj.images)

    def _take(self, src: ViidSource, obj: PushedObject) -> int:
        """Decode the object's pictures and queue them; its StatusCode."""
        images: list[Image] = []
        for img in self._pictures(obj):
            try:
                data = decode_image(img)
                images.append(decode_picture(data, "pushed picture", self._receiver.limits).image)
            except (PushFormatError, InputError):
                src.corrupt += 1
                return codes.STATUS_INVALID_JSON_CONTENT
        if not images:
            return codes.STATUS_INVALID_JSON_CONTENT
        cfg = self._receiver.config
        ticket = src.offer(images, self._shot_us(obj), cfg.busy_timeout_s)
        if ticket is None or not src.wait(ticket, cfg.analysis_timeout_s):
            return codes.STATUS_DEVICE_BUSY
        return codes.STATUS_OK

    def _shot_us(self, obj: PushedObject) -> int:
        """The camera's capture time when it is believable, else the time it arrived."""
        now = time.time_ns() // 1000
        cfg = self._receiver.config
        try:
            shot = parse_time(obj.shot_time, cfg.utc_offset_minutes)
        except ViidFormatError:
            return now
        return shot if abs(shot - now) <= cfg.max_clock_skew_s * 1e6 else now


def build_app(
    receiver: ViidReceiver, verifier: DigestVerifier, passwords: dict[str, str]
) -> Starlette:
    ep = _Endpoint(receiver, verifier, passwords)
    routes: list[Route] = [
        Route("/VIID/System/Time", ep.system_time, methods=["GET"]),
        Route("/VIID/System/{action}", ep.system, methods=["POST"]),
    ]
    for path in (codes.MOTOR_VEHICLES[0], codes.FACES[0], codes.IMAGES[0]):
        routes.append(Route(path, ep.push, methods=["POST"]))
    return Starlette(routes=routes)
