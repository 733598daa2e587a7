from __future__ import annotations

import dataclasses
import stat

import pytest

from edge.errors import ConfigError, EvidenceError
from edge.evidence.signing import (
    generate_signing_key,
    load_private_key,
    load_public_key,
    load_public_key_pem,
    public_key_fingerprint,
    public_key_pem,
    save_private_key,
    save_public_key,
    sign_event,
    verify_event,
)


def test_sign_and_verify_round_trip_through_key_files(tmp_path, make_event) -> None:
    key = generate_signing_key()
    save_private_key(key, tmp_path / "k" / "signing.key")
    save_public_key(key.public_key(), tmp_path / "k" / "signing.pub")
    assert stat.S_IMODE((tmp_path / "k" / "signing.key").stat().st_mode) == 0o600
    loaded = load_private_key(tmp_path / "k" / "signing.key")
    pub = load_public_key(tmp_path / "k" / "signing.pub")
    assert public_key_fingerprint(pub) == public_key_fingerprint(key)
    assert len(public_key_fingerprint(pub)) == 64

    e, _ = make_event(1)
    sig = sign_event(loaded, e)
    assert len(sig) == 64
    verify_event(pub, e, sig)


def test_save_private_key_tightens_an_existing_file(tmp_path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("old")
    path.chmod(0o644)
    save_private_key(generate_signing_key(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_altered_event_wrong_key_and_short_signature_fail_naming_the_event(make_event) -> None:
    key = generate_signing_key()
    e, _ = make_event(4, "e" * 64)
    sig = sign_event(key, e)
    with pytest.raises(EvidenceError, match=r"event .* sequence 4\).*does not verify"):
        verify_event(key.public_key(), dataclasses.replace(e, camera_id="cam-2"), sig)
    with pytest.raises(EvidenceError, match="does not verify"):
        verify_event(generate_signing_key().public_key(), e, sig)
    with pytest.raises(EvidenceError, match="is 63 bytes"):
        verify_event(key.public_key(), e, sig[:63])
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    with pytest.raises(EvidenceError):
        verify_event(key.public_key(), e, flipped)


def test_bad_key_material_is_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_private_key(tmp_path / "missing.key")
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(ConfigError, match=r"junk\.key"):
        load_private_key(tmp_path / "junk.key")
    with pytest.raises(EvidenceError, match="gateway gw-1 key: not a PEM public key"):
        load_public_key_pem(
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "gateway gw-1 key"
        )
    pem = public_key_pem(generate_signing_key().public_key())
    assert load_public_key_pem(pem.decode()) is not None
