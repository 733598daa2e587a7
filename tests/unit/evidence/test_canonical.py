"""canonical_bytes is the contract every signature depends on: pin it."""

from __future__ import annotations

import dataclasses
import hashlib

from edge.evidence.model import canonical_bytes, event_from_dict, event_hash, event_to_dict


def test_canonical_bytes_are_stable_and_pinned(make_event) -> None:
    e, _ = make_event(3, "c" * 64)
    text = canonical_bytes(e).decode("utf-8")
    assert text.startswith('{"blobs":[{"media_type":"image/jpeg","name":"scene.jpg"')
    assert '"similarity":0.6123' in text  # rounded to 4 decimals
    assert '"box":[10.5,11.25,40.0,52.125]' in text
    assert '"text":"粤B12345"' in text  # UTF-8, not \\u escapes
    assert '"location":[22.5431,114.0579]' in text
    assert " " not in text.replace("image/jpeg", "")
    assert event_hash(e) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_dict_round_trip_keeps_hash(make_event) -> None:
    e, _ = make_event(2, "d" * 64)
    assert event_hash(event_from_dict(event_to_dict(e))) == event_hash(e)


def test_float_noise_below_rounding_keeps_hash_but_real_change_does_not(make_event) -> None:
    e, _ = make_event(1)
    face = e.faces[0]
    noisy = dataclasses.replace(e, faces=(dataclasses.replace(face, similarity=0.612349),))
    assert event_hash(noisy) == event_hash(e)
    changed = dataclasses.replace(e, faces=(dataclasses.replace(face, similarity=0.7),))
    assert event_hash(changed) != event_hash(e)
