"""The wire side of dispatch: HMAC signatures, the HTTP sender, the package zip, the key.

Signature header: ``X-EdgeWatch-Signature: t=<unix seconds>,v1=<hex>`` where v1 is
HMAC-SHA256(key, "<t>." + body). A receiver recomputes it and refuses timestamps older
than a few minutes (``verify_signature``), so a captured request cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from typing import Any, Protocol

from edge.errors import ConfigError
from edge.store.config import DispatchConfig

log = logging.getLogger(__name__)

MIN_KEY_BYTES = 32
SIGNATURE_HEADER = "X-EdgeWatch-Signature"


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        """POST and return the HTTP status; OSError when nothing came back."""
        ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer we do not follow: it counts as a failure


class UrllibSender:
    """Plain HTTP(S) POST; ignores proxy settings of the environment, follows no redirect."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                resp.read(64 << 10)
                return int(resp.status)
        except urllib.error.HTTPError as e:
            e.close()
            return int(e.code)


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    key: bytes, header: str, body: bytes, now_s: int, tolerance_s: int = 300
) -> bool:
    """What a receiver does: recompute the HMAC and refuse stale timestamps (replays)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now_s - t) > tolerance_s:
        return False
    return hmac.compare_digest(sign(key, t, body), header.replace(" ", ""))


def package_link_signature(key: bytes, dispatch_id: str, event_id: str, expires_s: int) -> str:
    """HMAC of a package link: bound to the dispatch, its event and the expiry time."""
    message = f"edgewatch-package-link.v1.{dispatch_id}.{event_id}.{expires_s}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def package_link_ok(
    key: bytes, dispatch_id: str, event_id: str, expires_s: int, signature: str, now_s: int
) -> str | None:
    """Why a package link is refused, or None when it is good (constant-time compare)."""
    expected = package_link_signature(key, dispatch_id, event_id, expires_s)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "link signature is not valid"
    if now_s > expires_s:
        return "link has expired"
    return None


def zip_package(files: Mapping[str, bytes], folder: str) -> bytes:
    """The package as one zip (sorted, fixed timestamps): unzip and `edgewatch evidence verify`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in sorted(files):
            info = zipfile.ZipInfo(f"{folder}/{path}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[path])
    return buf.getvalue()


def load_key(config: DispatchConfig) -> bytes:
    try:
        key = config.hmac_key_file.read_bytes().rstrip(b"\r\n")
    except OSError as e:
        raise ConfigError(
            f"web.dispatch.hmac_key_file {str(config.hmac_key_file)!r} cannot be read: {e.strerror}"
        ) from None
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"web.dispatch.hmac_key_file holds {len(key)} bytes; at least {MIN_KEY_BYTES} "
            "(e.g. `openssl rand -hex 32 > dispatch.key`)"
        )
    return key
