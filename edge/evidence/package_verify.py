"""Verify an evidence package using nothing but the folder (see package.py for the format).

Every problem is one line naming the file (and event) that failed; an empty list means
every manifest hash, blob hash, signature and chain link checks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.errors import EvidenceError
from edge.evidence.model import (
    GENESIS_HASH,
    MatchEvent,
    canonical_bytes,
    event_from_dict,
    event_hash,
)
from edge.evidence.package import FORMAT, MANIFEST, SAFE_NAME, VERSION
from edge.evidence.signing import load_public_key_pem, public_key_fingerprint, verify_event


def _read_manifest(root: Path, problems: list[str]) -> dict[str, str]:
    try:
        text = (root / MANIFEST).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"{MANIFEST}: cannot be read ({e})")
        return {}
    entries: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        path = PurePosixPath(rel)
        bad_path = path.is_absolute() or ".." in path.parts or not rel
        if not sep or len(digest) != 64 or bad_path or rel in entries:
            problems.append(f"{MANIFEST}: line {n} is malformed: {line[:100]!r}")
            continue
        entries[rel] = digest
    return entries


def _check_manifest(root: Path, problems: list[str]) -> None:
    entries = _read_manifest(root, problems)
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {MANIFEST}
    for rel in sorted(set(entries) - present):
        problems.append(f"{rel}: listed in {MANIFEST} but missing")
    for rel in sorted(present - set(entries)):
        problems.append(f"{rel}: not listed in {MANIFEST} (added after export?)")
    for rel in sorted(set(entries) & present):
        actual = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        if actual != entries[rel]:
            problems.append(f"{rel}: sha256 {actual[:16]}... differs from {MANIFEST}")


def _load_json(path: Path, rel: str, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        problems.append(f"{rel}: not readable JSON ({e})")
        return None


def _load_keys(root: Path, problems: list[str]) -> dict[str, Ed25519PublicKey]:
    keys = {}
    for path in sorted((root / "keys").glob("*.pem")):
        rel = f"keys/{path.name}"
        try:
            keys[path.name[: -len(".pem")]] = load_public_key_pem(path.read_bytes(), rel)
        except EvidenceError as e:
            problems.append(str(e))
    return keys


def _check_blobs(folder: Path, rel: str, event: MatchEvent, problems: list[str]) -> None:
    listed = {b.name for b in event.blobs}
    present = {p.name for p in (folder / "blobs").glob("*") if p.is_file()}
    for name in sorted(present - listed):
        problems.append(f"{rel}/blobs/{name}: not referenced by the event")
    for b in event.blobs:
        if not SAFE_NAME.match(b.name) or ".." in b.name:
            problems.append(f"{rel}/event.json: blob name {b.name[:80]!r} is not a safe file name")
            continue
        path = folder / "blobs" / b.name
        if not path.is_file():
            problems.append(f"{rel}/blobs/{b.name}: missing")
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != b.sha256 or len(data) != b.size:
            problems.append(
                f"{rel}/blobs/{b.name}: sha256 {digest[:16]}... / {len(data)} bytes differ "
                f"from the signed {b.sha256[:16]}... / {b.size} bytes"
            )


def _check_chain(
    folder: Path, rel: str, event: MatchEvent, key: Ed25519PublicKey | None, problems: list[str]
) -> None:
    chain = _load_json(folder / "chain.json", f"{rel}/chain.json", problems)
    if not isinstance(chain, dict):
        return
    where = f"{rel}/chain.json"
    if chain.get("event_hash") != event_hash(event) or chain.get("sequence") != event.sequence:
        problems.append(f"{where}: does not describe this event (hash or sequence differ)")
    pred = chain.get("predecessor")
    if event.sequence == 1:
        if event.prev_hash != GENESIS_HASH:
            problems.append(f"{where}: sequence 1 must link to the genesis hash")
        return
    if not isinstance(pred, dict) or not isinstance(pred.get("canonical"), str):
        reason = chain.get("predecessor_missing")
        why = f" (store says: {reason})" if isinstance(reason, str) else ""
        problems.append(
            f"{where}: predecessor of sequence {event.sequence} is missing{why}; "
            "the chain link cannot be proven"
        )
        return
    try:
        prev = event_from_dict(json.loads(pred["canonical"]))
        prev_sig = bytes.fromhex(str(pred.get("signature", "")))
    except (ValueError, KeyError, TypeError) as e:
        problems.append(f"{where}: predecessor is not a valid event ({e})")
        return
    raw_hash = hashlib.sha256(pred["canonical"].encode("utf-8")).hexdigest()
    if canonical_bytes(prev).decode("utf-8") != pred["canonical"]:
        problems.append(f"{where}: predecessor text is not in canonical form")
    if raw_hash != event.prev_hash:
        problems.append(
            f"{where}: predecessor hashes to {raw_hash[:16]}..., the event's signed "
            f"prev_hash is {event.prev_hash[:16]}..."
        )
    if prev.sequence != event.sequence - 1 or prev.gateway_id != event.gateway_id:
        problems.append(
            f"{where}: predecessor is sequence {prev.sequence} of {prev.gateway_id}, "
            f"expected {event.sequence - 1} of {event.gateway_id}"
        )
    if key is not None:
        try:
            verify_event(key, prev, prev_sig)
        except EvidenceError as e:
            problems.append(f"{where}: predecessor {e}")


def _check_event(
    root: Path, event_id: str, keys: dict[str, Ed25519PublicKey], problems: list[str]
) -> None:
    rel = f"events/{event_id}"
    folder = root / rel
    doc = _load_json(folder / "event.json", f"{rel}/event.json", problems)
    if not isinstance(doc, dict):
        return
    try:
        event = event_from_dict(doc["event"])
    except (KeyError, TypeError, ValueError) as e:
        problems.append(f"{rel}/event.json: event is malformed ({e!r})")
        return
    if event.event_id != event_id:
        problems.append(f"{rel}/event.json: holds event {event.event_id}, not {event_id}")
    canonical = canonical_bytes(event)
    if doc.get("event_hash") != event_hash(event):
        problems.append(f"{rel}/event.json: event_hash does not match the event's content")
    try:
        if (folder / "canonical.json").read_bytes() != canonical:
            problems.append(f"{rel}/canonical.json: differs from the event in event.json")
        signature = (folder / "signature").read_bytes()
    except OSError as e:
        problems.append(f"{rel}: {e.filename}: cannot be read")
        return
    if doc.get("signature") != signature.hex():
        problems.append(f"{rel}/signature: differs from the signature in event.json")
    key = keys.get(event.gateway_id)
    if key is None:
        problems.append(f"{rel}: no usable key keys/{event.gateway_id}.pem for its gateway")
    else:
        if doc.get("gateway_key_fingerprint") != public_key_fingerprint(key):
            problems.append(f"keys/{event.gateway_id}.pem: fingerprint differs from {rel}")
        try:
            verify_event(key, event, signature)
        except EvidenceError as e:
            problems.append(f"{rel}/signature: {e}")
    _check_blobs(folder, rel, event, problems)
    _check_chain(folder, rel, event, key, problems)


def verify_package(root: Path) -> list[str]:
    """All problems of the package in ``root``; empty when everything verifies."""
    if not root.is_dir():
        return [f"{root}: not a folder"]
    problems: list[str] = []
    _check_manifest(root, problems)
    meta = _load_json(root / "package.json", "package.json", problems)
    if not isinstance(meta, dict):
        return problems
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        problems.append(f"package.json: not a {FORMAT} version {VERSION}")
    events = meta.get("events")
    if not isinstance(events, list) or not events:
        problems.append("package.json: lists no events")
        return problems
    on_disk = {p.name for p in (root / "events").glob("*") if p.is_dir()}
    for extra in sorted(on_disk - {str(e) for e in events}):
        problems.append(f"events/{extra}: not listed in package.json")
    keys = _load_keys(root, problems)
    for event_id in events:
        if str(event_id) not in on_disk:
            problems.append(f"events/{event_id}: listed in package.json but missing")
            continue
        _check_event(root, str(event_id), keys, problems)
    audit = _load_json(root / "audit.json", "audit.json", problems)
    if audit is not None and not isinstance(audit, list):
        problems.append("audit.json: must be a list of entries")
    return problems
