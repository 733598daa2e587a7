"""A GA/T 1400 platform of our own for tests: Starlette on uvicorn on 127.0.0.1.

It checks digest authentication (MD5, qop=auth) with edge.viid.digest (itself pinned
by the RFC's example in tests/unit/viid) against httpx's client implementation, wants
``User-Identify`` on every request, keeps who is registered, counts every object by
its ID and records deletes. Knobs make it fail: ``fail_next`` answers 503, ``refuse``
answers StatusCode 8 for listed IDs, ``forget()`` drops registrations (as a platform
restart does), ``stop()``/``start()`` on the same port make a real outage.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge.viid.digest import DigestVerifier
from edge.viid.objects import ResponseStatus, status_list_json
from edge.viid.receive import load_json

STORE_DEVICE = "44120000005030000001"
CAMERA_DEVICE = "44030400001320000001"
PASSWORD = "platform-secret-42"


def viid_section(root: Path, url: str, **changes: Any) -> dict[str, Any]:
    pw = root / "viid.password"
    pw.write_text(PASSWORD + "\n")
    pw.chmod(0o600)
    section: dict[str, Any] = {
        "url": url,
        "device_id": STORE_DEVICE,
        "username": "edgewatch",
        "password_file": str(pw),
        "push": "confirmed",
        "keepalive_interval_s": 5.0,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.4,
        "timeout_s": 5.0,
        "cameras": {"gw-1/cam-1": CAMERA_DEVICE},
    }
    section.update(changes)
    return section


@dataclass
class Received:
    path: str
    ids: list[str]
    content_type: str
    user_identify: str
    body: Any = None


@dataclass
class PlatformState:
    device_id: str
    username: str
    password: str
    registered: set[str] = field(default_factory=set)
    registrations: int = 0
    keepalives: int = 0
    unregistrations: int = 0
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    deleted: collections.Counter[str] = field(default_factory=collections.Counter)
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0
    refuse_all: bool = False
    bad_identify: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _status(url: str, code: int, oid: str) -> ResponseStatus:
    return ResponseStatus(
        code, "OK" if code == 0 else "refused", oid, url, time.strftime("%Y%m%d%H%M%S")
    )


class TestPlatform:
    def __init__(self, device_id: str, username: str, password: str) -> None:
        self.state = PlatformState(device_id, username, password)
        self._digest = DigestVerifier("viid-test", b"platform-key" * 3, 300.0, time.time)
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _auth(self, request: Request) -> Response | None:
        uri = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        s = self.state
        got = self._digest.verify(
            request.method, uri, request.headers.get("authorization"),
            lambda name: s.password if name == s.username else None,
        )  # fmt: skip
        if not got.ok:
            return Response(
                status_code=401, headers={"WWW-Authenticate": self._digest.challenge(got.stale)}
            )
        if request.headers.get("user-identify") != s.device_id:
            with s.lock:
                s.bad_identify += 1
            return JSONResponse(status_list_json([_status(uri, 4, "")]), 403)
        return None

    async def _system(self, request: Request) -> Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        action = request.url.path.rsplit("/", 1)[-1]
        doc = load_json(await request.body())
        key = {
            "Register": "RegisterObject",
            "Keepalive": "KeepaliveObject",
            "UnRegister": "UnRegisterObject",
        }[action]
        device = doc[key]["DeviceID"]
        s = self.state
        with s.lock:
            if action == "Register":
                s.registered.add(device)
                s.registrations += 1
                code = 0
            elif action == "Keepalive":
                s.keepalives += 1
                code = 0 if device in s.registered else 4
            else:
                s.unregistrations += 1
                s.registered.discard(device)
                code = 0
        return JSONResponse(
            {
                "ResponseStatusObject": {
                    "RequestURL": request.url.path,
                    "StatusCode": code,
                    "StatusString": "OK",
                    "Id": device,
                    "LocalTime": time.strftime("%Y%m%d%H%M%S"),
                }
            }
        )

    async def _objects(self, request: Request) -> Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        s = self.state
        name = {"/VIID/MotorVehicles": "MotorVehicle", "/VIID/Faces": "Face"}[request.url.path]
        with s.lock:
            if s.device_id not in s.registered:
                return Response(
                    status_code=401, headers={"WWW-Authenticate": self._digest.challenge()}
                )
            if s.fail_next > 0:
                s.fail_next -= 1
                return Response("busy", status_code=503)
        if request.method == "DELETE":
            ids = [i for i in request.query_params.get("IDList", "").split(",") if i]
            with s.lock:
                s.deleted.update(ids)
                s.requests.append(
                    Received(
                        request.url.path + "#delete",
                        ids,
                        "",
                        request.headers.get("user-identify", ""),
                    )
                )
            return JSONResponse(status_list_json([_status(request.url.path, 0, i) for i in ids]))
        doc = load_json(await request.body())
        objects = next(iter(doc.values()))[f"{name}Object"]
        ids = [o[f"{name}ID"] for o in objects]
        with s.lock:
            codes = [8 if s.refuse_all else 0 for i in ids]
            for i, c in zip(ids, codes, strict=True):
                if c == 0:
                    s.counts[i] += 1
            s.requests.append(
                Received(
                    request.url.path,
                    ids,
                    request.headers.get("content-type", ""),
                    request.headers.get("user-identify", ""),
                    doc,
                )
            )
        return JSONResponse(
            status_list_json(
                [_status(request.url.path, c, i) for i, c in zip(ids, codes, strict=True)]
            )
        )

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/VIID/System/{action}", self._system, methods=["POST"]),
            Route("/VIID/MotorVehicles", self._objects, methods=["POST", "DELETE"]),
            Route("/VIID/Faces", self._objects, methods=["POST", "DELETE"]),
        ])  # fmt: skip

    def start(self) -> None:
        if self.port == 0:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_config=None,
                                access_log=False, lifespan="off")  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="viid-platform", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            assert time.monotonic() < deadline, "test platform did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=20)
        self._server = self._thread = None

    def forget(self) -> None:
        with self.state.lock:
            self.state.registered.clear()

    def wait_for(self, check: Any, timeout: float = 30.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                if check(self.state):
                    return
            time.sleep(0.05)
        raise AssertionError(f"platform never saw {what or check}: {self.state}")


class WebhookReceiver:
    """A case-system webhook (the existing dispatch target): records verified bodies."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.bodies: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._inner = _Served(Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._inner.port}/hook"

    async def _hook(self, request: Request) -> Response:
        from edge.store.dispatch_io import SIGNATURE_HEADER, verify_signature

        body = await request.body()
        ok = verify_signature(
            self.key, request.headers.get(SIGNATURE_HEADER, ""), body, int(time.time())
        )
        with self._lock:
            if ok:
                self.bodies.append(json.loads(body))
            else:
                self.bad_signatures += 1
        return Response(status_code=200 if ok else 401)

    def start(self) -> None:
        self._inner.start()

    def stop(self) -> None:
        self._inner.stop()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [b for b in self.bodies if b.get("type") == kind]


class _Served:
    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None,
                                access_log=False, lifespan="off")  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=20)
