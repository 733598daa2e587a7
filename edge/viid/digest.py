"""The server side of HTTP digest authentication (RFC 7616 with MD5, qop=auth).

GA/T 1400 devices authenticate with digest MD5. No maintained ASGI/Starlette package
does the server side (the PyPI candidates are unmaintained Django/WSGI-era libraries),
so this is written here, small and strict:

* nonces are stateless and expire: ``<time>.<random>.<HMAC-SHA256(key, time.random)>``;
  a nonce whose MAC does not verify is refused, an expired one gets ``stale=true``
  (clients then retry with a fresh nonce without asking the user again);
* only ``qop=auth`` is accepted (so every request carries a client nonce and a count),
  and each (nonce, nc) may be used once: a replayed request is refused;
* the response hash is compared in constant time (``hmac.compare_digest``), the
  ``uri`` parameter must be the request's own target and the realm ours.

Passwords are looked up by user name through a callable; nothing here logs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED_NONCES = 20_000
_REQUIRED = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")


@dataclass(frozen=True, slots=True)
class DigestResult:
    ok: bool
    username: str | None = None
    stale: bool = False  # the nonce expired: challenge again with stale=true
    reason: str = ""  # for the server's log: no secrets, no hashes


def parse_authorization(header: str) -> dict[str, str] | None:
    """The parameters of a ``Digest ...`` Authorization header (None if not digest)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,\t":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            i += 1
            value = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(rest[i])
                i += 1
            i += 1  # closing quote
            params[key] = "".join(value)
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            params[key] = rest[i:end].strip()
            i = end
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def expected_response(
    username: str, realm: str, password: str, method: str, uri: str, p: dict[str, str]
) -> str:
    """RFC 7616 response for qop=auth with MD5."""
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    return _md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")


class DigestVerifier:
    def __init__(
        self,
        realm: str,
        key: bytes,
        nonce_ttl_s: float,
        clock: Callable[[], float],
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._realm = realm
        self._key = key
        self._ttl = nonce_ttl_s
        self._clock = clock
        self._random = random_bytes
        self._lock = threading.Lock()
        #: nonce -> highest nc accepted (oldest first, so the map stays bounded)
        self._counts: OrderedDict[str, int] = OrderedDict()

    @property
    def realm(self) -> str:
        return self._realm

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:32]

    def new_nonce(self) -> str:
        body = f"{int(self._clock() * 1000):x}.{self._random(12).hex()}"
        return f"{body}.{self._mac(body)}"

    def _opaque(self) -> str:
        return self._mac("opaque:" + self._realm)

    def challenge(self, stale: bool = False) -> str:
        """The WWW-Authenticate value of a 401."""
        return (
            f'Digest realm="{self._realm}", qop="auth", algorithm=MD5, '
            f'nonce="{self.new_nonce()}", opaque="{self._opaque()}"'
            + (", stale=true" if stale else "")
        )

    def _nonce_state(self, nonce: str) -> str:
        """ "ok", "stale" or "bad"."""
        parts = nonce.split(".")
        if len(parts) != 3:
            return "bad"
        if not hmac.compare_digest(self._mac(f"{parts[0]}.{parts[1]}"), parts[2]):
            return "bad"
        try:
            issued_ms = int(parts[0], 16)
        except ValueError:
            return "bad"
        age = self._clock() - issued_ms / 1000
        return "ok" if -5.0 <= age <= self._ttl else "stale"

    def _fresh_count(self, nonce: str, nc_hex: str) -> bool:
        try:
            nc = int(nc_hex, 16)
        except ValueError:
            return False
        with self._lock:
            if nc <= self._counts.get(nonce, 0):
                return False
            self._counts[nonce] = nc
            self._counts.move_to_end(nonce)
            while len(self._counts) > MAX_TRACKED_NONCES:
                self._counts.popitem(last=False)
        return True

    def verify(
        self,
        method: str,
        uri: str,
        authorization: str | None,
        password_of: Callable[[str], str | None],
    ) -> DigestResult:
        """Check one request's Authorization header; ``uri`` is the request target."""
        p = parse_authorization(authorization or "")
        if p is None:
            return DigestResult(False, reason="no digest credentials")
        missing = [k for k in _REQUIRED if not p.get(k)]
        if missing:
            return DigestResult(False, reason=f"digest parameters missing: {', '.join(missing)}")
        if p["qop"] != "auth" or p.get("algorithm", "MD5").upper() != "MD5":
            return DigestResult(False, reason="only algorithm MD5 with qop=auth is accepted")
        if p["realm"] != self._realm or p["uri"] != uri:
            return DigestResult(False, reason="realm or uri does not match the request")
        if "opaque" in p and not hmac.compare_digest(p["opaque"], self._opaque()):
            return DigestResult(False, reason="opaque does not match")
        state = self._nonce_state(p["nonce"])
        if state != "ok":
            return DigestResult(False, stale=state == "stale", reason=f"nonce {state}")
        password = password_of(p["username"])
        # compute even for an unknown user, so timing does not tell which names exist
        want = expected_response(p["username"], self._realm, password or "", method, uri, p)
        if not hmac.compare_digest(want, p["response"].lower()) or password is None:
            return DigestResult(False, reason="wrong user name or password")
        if not self._fresh_count(p["nonce"], p["nc"]):
            return DigestResult(False, reason="nonce count reused (replay)")
        return DigestResult(True, username=p["username"])
