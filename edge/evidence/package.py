"""The evidence package: a folder that proves itself to anyone holding only the folder.

Layout (all paths POSIX, relative to the package folder)::

    package.json                  {"format": "edgewatch-evidence-package", "version": 1,
                                   "created_at_us", "events": [event ids], "gateways": [...]}
    keys/<gateway_id>.pem         the gateway's Ed25519 public key (SubjectPublicKeyInfo)
    events/<event_id>/event.json  {"event": event_to_dict(e), "event_hash", "signature"
                                   (hex), "gateway_key_fingerprint", "integrity": {"state",
                                   "note"} as recorded at ingest, "received_at_us",
                                   "verdicts": [{"verdict", "note", "reviewer", "at_us"}]}
    events/<event_id>/canonical.json   exactly canonical_bytes(event): the signed bytes
    events/<event_id>/signature   the raw 64-byte Ed25519 signature
    events/<event_id>/blobs/<name>     each blob exactly as received from the gateway
    events/<event_id>/chain.json  the chain segment: {"gateway_id", "sequence",
                                   "prev_hash", "event_hash", "predecessor": null (only for
                                   sequence 1) or {"sequence", "event_hash", "canonical"
                                   (the predecessor's canonical JSON text), "signature" (hex)}}
    audit.json                    audit entries about these events (list of JSON objects)
    MANIFEST.sha256               "<sha256 hex>  <path>" for every other file, sorted by path

The chain link is checkable because the predecessor's canonical text hashes to the
event's signed ``prev_hash`` and carries the gateway's signature itself. Verification
(``verify_package``) lives in edge/evidence/package_verify.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import EvidenceError
from edge.evidence.model import MatchEvent, canonical_bytes, event_hash, event_to_dict
from edge.evidence.signing import load_public_key_pem, public_key_fingerprint

FORMAT = "edgewatch-evidence-package"
VERSION = 1
MANIFEST = "MANIFEST.sha256"
#: event ids, gateway ids and blob names become path parts: keep them boring
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True, slots=True)
class PackageVerdict:
    verdict: str  # "confirmed" | "rejected"
    note: str
    reviewer: str
    at_us: int


@dataclass(frozen=True, slots=True)
class ChainLink:
    """A predecessor event in its signed form."""

    event: MatchEvent
    signature: bytes


@dataclass(frozen=True, slots=True)
class PackageItem:
    event: MatchEvent
    signature: bytes
    blobs: Mapping[str, bytes]  # name -> bytes exactly as received
    integrity: str  # state recorded at ingest ("ok", "gap", ...)
    integrity_note: str = ""
    received_at_us: int = 0
    verdicts: tuple[PackageVerdict, ...] = ()
    #: event sequence-1 of the same gateway; None only for sequence 1
    predecessor: ChainLink | None = None
    #: why the predecessor is absent (a recorded gap, purged by retention...)
    predecessor_missing: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"label": ...}


def safe_name(name: str, what: str) -> str:
    if not SAFE_NAME.match(name) or ".." in name:
        raise EvidenceError(f"{what} {name!r} cannot be a file name in a package")
    return name


def _json(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _chain(item: PackageItem) -> dict[str, Any]:
    e = item.event
    pred = item.predecessor
    out: dict[str, Any] = {}
    if pred is None and e.sequence != 1:
        # exported anyway (the evidence itself still verifies), but the link cannot be
        # proven: the verifier names it and fails, with the store's stated reason
        out["predecessor_missing"] = item.predecessor_missing or "not in the store"
    return out | {
        "gateway_id": e.gateway_id,
        "sequence": e.sequence,
        "prev_hash": e.prev_hash,
        "event_hash": event_hash(e),
        "predecessor": None
        if pred is None
        else {
            "sequence": pred.event.sequence,
            "event_hash": event_hash(pred.event),
            "canonical": canonical_bytes(pred.event).decode("utf-8"),
            "signature": pred.signature.hex(),
        },
    }


def _event_files(item: PackageItem, key_fp: str) -> dict[str, bytes]:
    e = item.event
    missing = [b.name for b in e.blobs if b.name not in item.blobs]
    if missing:
        raise EvidenceError(f"event {e.event_id}: blobs {missing} are not available")
    doc = {
        "event": event_to_dict(e),
        "event_hash": event_hash(e),
        "signature": item.signature.hex(),
        "gateway_key_fingerprint": key_fp,
        "integrity": {"state": item.integrity, "note": item.integrity_note},
        "received_at_us": item.received_at_us,
        "verdicts": [
            {"verdict": v.verdict, "note": v.note, "reviewer": v.reviewer, "at_us": v.at_us}
            for v in item.verdicts
        ],
        **({"extra": dict(item.extra)} if item.extra else {}),
    }
    files = {
        "event.json": _json(doc),
        "canonical.json": canonical_bytes(e),
        "signature": item.signature,
        "chain.json": _json(_chain(item)),
    }
    for b in e.blobs:
        files[f"blobs/{safe_name(b.name, 'blob name')}"] = item.blobs[b.name]
    return files


def package_files(
    items: Sequence[PackageItem],
    audit_entries: Sequence[Mapping[str, Any]],
    gateway_public_keys: Mapping[str, bytes],
    created_at_us: int,
) -> dict[str, bytes]:
    """Every file of the package (path -> bytes), MANIFEST.sha256 included.

    The store streams these to a client (Review.Export); ``write_package`` writes them.
    """
    if not items:
        raise EvidenceError("an evidence package needs at least one event")
    files: dict[str, bytes] = {}
    fingerprints: dict[str, str] = {}
    for gid in sorted({i.event.gateway_id for i in items}):
        if gid not in gateway_public_keys:
            raise EvidenceError(f"no public key for gateway {gid!r}")
        pem = gateway_public_keys[gid]
        fingerprints[gid] = public_key_fingerprint(load_public_key_pem(pem, f"gateway {gid} key"))
        files[f"keys/{safe_name(gid, 'gateway id')}.pem"] = pem
    ids = [i.event.event_id for i in items]
    if len(set(ids)) != len(ids):
        raise EvidenceError("an event appears twice in the package")
    for item in items:
        folder = f"events/{safe_name(item.event.event_id, 'event id')}"
        for name, data in _event_files(item, fingerprints[item.event.gateway_id]).items():
            files[f"{folder}/{name}"] = data
    files["package.json"] = _json(
        {
            "format": FORMAT,
            "version": VERSION,
            "created_at_us": created_at_us,
            "events": ids,
            "gateways": sorted(fingerprints),
        }
    )
    files["audit.json"] = _json([dict(a) for a in audit_entries])
    files[MANIFEST] = manifest_text(files).encode("utf-8")
    return files


def manifest_text(files: Mapping[str, bytes]) -> str:
    return "".join(
        f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files) if p != MANIFEST
    )


def write_package(
    out_dir: Path,
    items: Sequence[PackageItem],
    audit_entries: Sequence[Mapping[str, Any]],
    gateway_public_keys: Mapping[str, bytes],
    created_at_us: int = 0,
) -> list[str]:
    """Write the package into ``out_dir`` (new or empty); return the relative paths."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise EvidenceError(f"{str(out_dir)!r} exists and is not an empty folder")
    files = package_files(items, audit_entries, gateway_public_keys, created_at_us)
    for rel, data in files.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return sorted(files)


def verify_package(root: Path) -> list[str]:
    """All problems of the package in ``root``; empty when everything verifies."""
    from edge.evidence.package_verify import verify_package as verify

    return verify(root)
