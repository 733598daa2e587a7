"""Retention purges on both backends: expired events and their unshared blobs, audited."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization

from edge.evidence.model import event_hash
from edge.evidence.signing import generate_signing_key
from edge.store.audit import Auditor
from edge.store.config import Limits, Retention
from edge.store.ingest import IngestService
from edge.store.repository import EventQuery
from edge.store.retention import DAY_US, RetentionWorker
from edge.store.sql_repo import SqlRepository
from tests.support.loadgen import signed_chain

NOW = 1_800_000_000_000_000


def test_purge_expires_unconfirmed_keeps_open_cases(repo: SqlRepository) -> None:
    key = generate_signing_key()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    repo.gateways.register_gateway("gw-1", raw, None, 1)
    blobs = repo.blobs
    ingest = IngestService(repo, Limits(), lambda: NOW)
    old = signed_chain(key, "gw-1", 3, first_at_us=NOW - 40 * DAY_US)
    new = signed_chain(
        key, "gw-1", 1, start=4, prev_hash=event_hash(old[-1].event), first_at_us=NOW - DAY_US
    )
    for s in old + new:
        assert ingest.deliver("gw-1", s.event, s.signature, s.blobs).status == "stored"
    repo.events.set_verdict(old[0].event.event_id, "confirmed", "case 9", "ann", NOW)
    auditor = Auditor(repo.audit, lambda: NOW)
    worker = RetentionWorker(Retention(unconfirmed_days=30), repo, auditor, lambda: NOW)
    assert worker.purge_once() == 2
    left = {s.event.event_id for s in repo.events.search(EventQuery()).events}
    assert left == {old[0].event.event_id, new[0].event.event_id}
    for s in old[1:]:
        assert not blobs.exists(s.event.blobs[0].sha256)
    assert blobs.exists(old[0].event.blobs[0].sha256)
    [purge] = [e for e in repo.audit.entries() if e.action == "retention.purge"]
    assert set(json.loads(purge.detail_json)["event_ids"]) == {s.event.event_id for s in old[1:]}
    assert auditor.verify().ok
    # the case closes: the confirmed event expires too
    repo.events.set_case_open(old[0].event.event_id, False)
    assert worker.purge_once() == 1
