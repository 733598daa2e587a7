"""HTTP calls to a GA/T 1400 platform: register, keepalive, unregister, push, delete.

httpx does the transport and the digest authentication (``httpx.DigestAuth``: MD5 with
qop=auth, re-using the platform's nonce with a rising count, answering a new challenge
when the nonce goes stale). Every request carries ``User-Identify: <our DeviceID>`` and
the configured content type. Proxy settings of the environment are ignored and
redirects are not followed: the platform's address is configuration, nothing else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from edge.store.viid_config import ViidConfig
from edge.viid.codes import KEEPALIVE_PATH, REGISTER_PATH, UNREGISTER_PATH, USER_IDENTIFY
from edge.viid.objects import ResponseStatus, parse_statuses

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallResult:
    http_status: int | None  # None: no answer (refused, timed out, reset)
    statuses: tuple[ResponseStatus, ...] = field(default=())
    error: str = ""  # why there is no answer, for logs and the audit trail

    @property
    def answered(self) -> bool:
        return self.http_status is not None

    @property
    def ok(self) -> bool:
        """2xx, and every ResponseStatusObject (if any) says 0."""
        return (
            self.http_status is not None
            and 200 <= self.http_status < 300
            and all(s.ok for s in self.statuses)
        )

    def describe(self) -> str:
        if self.http_status is None:
            return self.error or "no answer"
        codes = ",".join(str(s.status_code) for s in self.statuses[:8])
        return f"HTTP {self.http_status}" + (f" StatusCode {codes}" if codes else "")


def encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ViidClient:
    def __init__(
        self, config: ViidConfig, password: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._config = config
        self._password = password
        self._transport = transport
        self._http: httpx.Client | None = None

    def open(self) -> None:
        cfg = self._config
        self._http = httpx.Client(
            base_url=cfg.url,
            auth=httpx.DigestAuth(cfg.username, self._password),
            timeout=cfg.timeout_s,
            headers={
                USER_IDENTIFY: cfg.device_id,
                "Content-Type": f"{cfg.compat.content_type};charset=UTF-8",
                "Accept": "application/VIID+JSON, application/json",
                "User-Agent": "EdgeWatch-viid/1",
            },
            trust_env=False,
            follow_redirects=False,
            transport=self._transport,
        )

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _call(self, method: str, path: str, body: bytes | None = None, **params: str) -> CallResult:
        assert self._http is not None, "ViidClient.open() first"
        try:
            r = self._http.request(method, path, content=body, params=params or None)
        except httpx.TimeoutException:
            return CallResult(None, error="timed out")
        except httpx.TransportError as e:
            return CallResult(None, error=f"no answer ({type(e).__name__})")
        try:
            doc = r.json() if r.content else None
        except ValueError:
            doc = None
        return CallResult(r.status_code, tuple(parse_statuses(doc)))

    def _system(self, path: str, key: str) -> CallResult:
        return self._call("POST", path, encode({key: {"DeviceID": self._config.device_id}}))

    def register(self) -> CallResult:
        return self._system(REGISTER_PATH, "RegisterObject")

    def keepalive(self) -> CallResult:
        return self._system(KEEPALIVE_PATH, "KeepaliveObject")

    def unregister(self) -> CallResult:
        return self._system(UNREGISTER_PATH, "UnRegisterObject")

    def post(self, path: str, body: bytes) -> CallResult:
        return self._call("POST", path, body)

    def delete(self, path: str, object_ids: Sequence[str]) -> CallResult:
        """GA/T 1400.4 batch delete: ``DELETE <collection>?IDList=id1,id2``."""
        return self._call("DELETE", path, IDList=",".join(object_ids))
