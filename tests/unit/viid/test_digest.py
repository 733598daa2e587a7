"""The server side of digest authentication: the RFC's example, expiry, replay, tampering."""

from __future__ import annotations

import hashlib

from edge.viid.digest import DigestVerifier, expected_response, parse_authorization

RFC = {
    "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    "nc": "00000001",
    "cnonce": "0a4f113b",
    "qop": "auth",
}


def test_rfc_2617_example_response() -> None:
    got = expected_response(
        "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html", RFC
    )
    assert got == "6629fae49393a05397450978507c4ef1"


def test_authorization_header_parsing_handles_quotes_and_commas() -> None:
    p = parse_authorization(
        'Digest username="a, \\"b\\"", realm="r", nc=00000002, qop=auth, uri="/VIID/x?a=1,2"'
    )
    assert p == {"username": 'a, "b"', "realm": "r", "nc": "00000002", "qop": "auth",
                 "uri": "/VIID/x?a=1,2"}  # fmt: skip
    assert parse_authorization("Basic dXNlcjpwYXNz") is None


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def header(v: DigestVerifier, nonce: str, nc: str, password: str = "pw", uri: str = "/VIID/Faces",
           user: str = "cam1") -> str:  # fmt: skip
    p = {"nonce": nonce, "nc": nc, "cnonce": "c0ffee", "qop": "auth"}
    resp = expected_response(user, v.realm, password, "POST", uri, p)
    return (
        f'Digest username="{user}", realm="{v.realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{resp}", qop=auth, nc={nc}, cnonce="c0ffee", algorithm=MD5'
    )


def make() -> tuple[DigestVerifier, Clock]:
    clock = Clock()
    return DigestVerifier("edgewatch", b"k" * 32, 300.0, clock), clock


def lookup(name: str) -> str | None:
    return {"cam1": "pw"}.get(name)


def test_good_credentials_pass_once_per_nonce_count() -> None:
    v, _ = make()
    nonce = v.new_nonce()
    ok = v.verify("POST", "/VIID/Faces", header(v, nonce, "00000001"), lookup)
    assert ok.ok and ok.username == "cam1"
    replay = v.verify("POST", "/VIID/Faces", header(v, nonce, "00000001"), lookup)
    assert not replay.ok and "replay" in replay.reason
    assert v.verify("POST", "/VIID/Faces", header(v, nonce, "00000002"), lookup).ok


def test_expired_nonces_are_stale_and_forged_ones_bad() -> None:
    v, clock = make()
    nonce = v.new_nonce()
    clock.now += 301
    stale = v.verify("POST", "/VIID/Faces", header(v, nonce, "00000001"), lookup)
    assert not stale.ok and stale.stale
    forged = nonce.rsplit(".", 1)[0] + "." + hashlib.md5(b"x").hexdigest()
    bad = v.verify("POST", "/VIID/Faces", header(v, forged, "00000001"), lookup)
    assert not bad.ok and not bad.stale and "bad" in bad.reason
    other = DigestVerifier("edgewatch", b"j" * 32, 300.0, clock).new_nonce()
    assert not v.verify("POST", "/VIID/Faces", header(v, other, "00000001"), lookup).ok


def test_wrong_password_user_uri_or_qop_fail() -> None:
    v, _ = make()
    n = v.new_nonce()
    assert not v.verify("POST", "/VIID/Faces", header(v, n, "00000001", password="x"), lookup).ok
    assert not v.verify("POST", "/VIID/Faces", header(v, n, "00000002", user="who"), lookup).ok
    moved = header(v, n, "00000003", uri="/VIID/Other")
    assert not v.verify("POST", "/VIID/Faces", moved, lookup).ok
    no_qop = header(v, n, "00000004").replace("qop=auth, ", "")
    assert "missing" in v.verify("POST", "/VIID/Faces", no_qop, lookup).reason
    assert not v.verify("POST", "/VIID/Faces", None, lookup).ok


def test_the_challenge_offers_md5_with_qop_auth() -> None:
    v, _ = make()
    ch = v.challenge(stale=True)
    p = parse_authorization(ch)
    assert p is not None and p["qop"] == "auth" and p["algorithm"] == "MD5"
    assert p["realm"] == "edgewatch" and p["stale"] == "true" and p["nonce"]
