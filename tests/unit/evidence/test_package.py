"""Evidence packages: written from real signed events, verified from the folder alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge.cli import main
from edge.errors import EvidenceError
from edge.evidence.package import (
    MANIFEST,
    ChainLink,
    PackageItem,
    PackageVerdict,
    manifest_text,
    verify_package,
    write_package,
)
from edge.evidence.signing import generate_signing_key, public_key_pem, sign_event


@pytest.fixture
def package(tmp_path: Path, make_chain) -> Path:
    """Events 1 and 3 of a 3-event chain of gw-1 (3 carries its predecessor 2)."""
    key = generate_signing_key()
    chain = [(e, sign_event(key, e), blobs) for e, blobs in make_chain(3)]
    items = [
        PackageItem(chain[0][0], chain[0][1], chain[0][2], "ok"),
        PackageItem(
            chain[2][0],
            chain[2][1],
            chain[2][2],
            "ok",
            received_at_us=1_750_000_100_000_000,
            verdicts=(PackageVerdict("confirmed", "vendor van, case 17", "reviewer", 5),),
            predecessor=ChainLink(chain[1][0], chain[1][1]),
        ),
    ]
    audit = [{"seq": 1, "actor": "reviewer", "action": "export", "entry_hash": "ab" * 32}]
    out = tmp_path / "pkg"
    write_package(out, items, audit, {"gw-1": public_key_pem(key.public_key())}, 123)
    return out


def _event_dir(pkg: Path, n: int) -> Path:
    ids = json.loads((pkg / "package.json").read_text())["events"]
    return pkg / "events" / ids[n]


def _flip(path: Path, offset: int = -5) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_intact_package_verifies_and_cli_exits_zero(package: Path, capsys) -> None:
    assert verify_package(package) == []
    assert main(["evidence", "verify", str(package)]) == 0
    assert "OK: 2 event(s)" in capsys.readouterr().out
    ev = _event_dir(package, 1)
    doc = json.loads((ev / "event.json").read_text())
    assert doc["verdicts"][0]["verdict"] == "confirmed"
    assert doc["integrity"] == {"state": "ok", "note": ""}
    assert sorted(p.name for p in (ev / "blobs").iterdir()) == [
        "face-0.jpg",
        "plate-0.jpg",
        "scene.jpg",
    ]
    chain = json.loads((ev / "chain.json").read_text())
    assert chain["predecessor"]["sequence"] == 2
    assert json.loads((_event_dir(package, 0) / "chain.json").read_text())["predecessor"] is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("blobs/scene.jpg", "blobs/scene.jpg"),
        ("event.json", "event.json"),
        ("signature", "signature"),
        ("canonical.json", "canonical.json"),
        ("chain.json", "chain.json"),
    ],
)
def test_one_flipped_byte_in_an_event_file_fails_naming_it(
    package: Path, target: str, expected: str, capsys
) -> None:
    ev = _event_dir(package, 1)
    offset = 40 if target in ("event.json", "chain.json") else -5
    _flip(ev / target, offset)
    problems = verify_package(package)
    assert problems
    assert any(expected in p for p in problems), problems
    assert main(["evidence", "verify", str(package)]) == 1
    err = capsys.readouterr().err
    assert "does NOT verify" in err and expected in err


def test_flipped_byte_in_the_key_fails(package: Path) -> None:
    _flip(package / "keys" / "gw-1.pem", 40)
    problems = verify_package(package)
    assert any("keys/gw-1.pem" in p for p in problems), problems


def test_flipped_byte_in_the_manifest_fails(package: Path) -> None:
    _flip(package / MANIFEST, 3)
    problems = verify_package(package)
    assert any(MANIFEST in p for p in problems), problems


def _rewrite_manifest(pkg: Path) -> None:
    files = {p.relative_to(pkg).as_posix(): p.read_bytes() for p in pkg.rglob("*") if p.is_file()}
    (pkg / MANIFEST).write_text(manifest_text(files))


def test_tampering_with_a_recomputed_manifest_is_still_caught(package: Path) -> None:
    ev = _event_dir(package, 1)
    _flip(ev / "blobs" / "face-0.jpg")
    doc = json.loads((ev / "event.json").read_text())
    doc["event"]["plates"][0]["text"] = "粤B99999"
    (ev / "event.json").write_text(json.dumps(doc))
    _rewrite_manifest(package)
    problems = verify_package(package)
    assert any("blobs/face-0.jpg: sha256" in p for p in problems), problems
    assert any("event_hash does not match" in p for p in problems), problems
    assert any(p.startswith(f"events/{ev.name}/signature:") for p in problems), problems


def test_swapped_predecessor_breaks_the_chain_link(package: Path, make_event) -> None:
    ev = _event_dir(package, 1)
    chain = json.loads((ev / "chain.json").read_text())
    other, _ = make_event(2, camera_id="cam-x")
    from edge.evidence.model import canonical_bytes

    chain["predecessor"]["canonical"] = canonical_bytes(other).decode()
    (ev / "chain.json").write_text(json.dumps(chain))
    _rewrite_manifest(package)
    problems = verify_package(package)
    assert any("signed prev_hash" in p for p in problems), problems


def test_added_and_removed_files_are_named(package: Path) -> None:
    (package / "notes.txt").write_text("added later")
    shutil.rmtree(_event_dir(package, 0) / "blobs")
    problems = verify_package(package)
    assert any(p.startswith("notes.txt: not listed") for p in problems)
    assert any("blobs/scene.jpg: listed in MANIFEST.sha256 but missing" in p for p in problems)
    assert any(p.endswith("blobs/scene.jpg: missing") for p in problems)


def test_writer_refuses_what_it_cannot_prove(tmp_path: Path, make_chain) -> None:
    key = generate_signing_key()
    (_, _), (e2, blobs2) = make_chain(2)
    pem = {"gw-1": public_key_pem(key.public_key())}
    no_pred = PackageItem(
        e2, sign_event(key, e2), blobs2, "gap", predecessor_missing="sequence 1 is not in the store"
    )
    with pytest.raises(EvidenceError, match="no public key"):
        write_package(tmp_path / "b", [no_pred], [], {})
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")
    with pytest.raises(EvidenceError, match="not an empty folder"):
        write_package(tmp_path / "c", [no_pred], [], pem)


def test_missing_predecessor_is_exported_but_fails_verification_with_the_reason(
    tmp_path: Path, make_chain
) -> None:
    """An event after a recorded gap can still be exported; the verifier names the
    unprovable link (and the store's reason) instead of passing it."""
    key = generate_signing_key()
    (_, _), (e2, blobs2) = make_chain(2)
    pem = {"gw-1": public_key_pem(key.public_key())}
    item = PackageItem(
        e2,
        sign_event(key, e2),
        blobs2,
        "gap",
        predecessor_missing="sequence 1 is not in the store (gap)",
    )
    write_package(tmp_path / "p", [item], [], pem)
    problems = verify_package(tmp_path / "p")
    assert len(problems) == 1, problems
    assert "predecessor of sequence 2 is missing" in problems[0]
    assert "sequence 1 is not in the store (gap)" in problems[0]


def test_blob_names_cannot_escape_the_package(package: Path) -> None:
    ev = _event_dir(package, 0)
    doc = json.loads((ev / "event.json").read_text())
    doc["event"]["blobs"][0]["name"] = "../../../../etc/hostname"
    (ev / "event.json").write_text(json.dumps(doc))
    problems = verify_package(package)
    assert any("is not a safe file name" in p for p in problems), problems
