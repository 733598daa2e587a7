"""Group commit: one transaction for many events and streams, same chain verdicts.

Runs the repository part on SQLite and PostgreSQL (conftest.repo) and the stream part
against a real store over mTLS gRPC.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization

from edge.evidence.signing import generate_signing_key
from edge.store.config import Limits
from edge.store.ingest import Ack, Delivery, IngestService
from edge.store.linking import classify_link
from edge.store.repository import EventQuery, NewEvent, StoredBlob
from edge.store.sql_repo import SqlRepository
from edge.store.sqlite_repo import sqlite_repository
from tests.support.loadgen import Deployment, signed_chain

Make = Callable[..., list[tuple[NewEvent, list[StoredBlob]]]]


def test_one_group_classifies_each_event_after_the_ones_before_it(
    repo: SqlRepository, make_events: Make
) -> None:
    repo.gateways.register_gateway("gw-1", b"k" * 32, None, 1)
    repo.gateways.register_gateway("gw-2", b"j" * 32, None, 1)
    one = make_events(4)
    two = make_events(2, gateway_id="gw-2")
    order = [one[0], two[0], one[1], one[1], one[3], two[1], one[2]]
    outcomes = repo.events.insert_events(
        [(new, blobs, partial(classify_link, new.event)) for new, blobs in order]
    )
    got = [(o.status, o.integrity) for o in outcomes]
    assert got == [
        ("inserted", "ok"),
        ("inserted", "ok"),
        ("inserted", "ok"),
        ("duplicate", "ok"),  # the same event twice in one group
        ("inserted", "gap"),  # sequence 3 is not there yet
        ("inserted", "ok"),
        ("inserted", "ok"),  # sequence 3 links to 2, stored earlier in this group
    ]
    assert "arrived late" in outcomes[-1].note
    heads = {g: repo.gateways.get_gateway(g) for g in ("gw-1", "gw-2")}
    assert {g: i.head.last_sequence for g, i in heads.items() if i} == {"gw-1": 4, "gw-2": 2}
    assert repo.events.counts().total == 6


def test_concurrent_streams_keep_each_chain_in_order(store: Deployment) -> None:
    chains = {g: signed_chain(store.signing_key(g), f"gw-{g}", 60) for g in (1, 2)}
    acks: dict[int, list[str]] = {}

    def deliver(g: int) -> None:
        with store.gateway(g) as gw:
            acks[g] = [f"{a.status}:{a.integrity}" for a in gw.deliver(chains[g])]

    threads = [threading.Thread(target=deliver, args=(g,)) for g in chains]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert acks == {1: ["stored:ok"] * 60, 2: ["stored:ok"] * 60}
    with store.person("admin") as admin:
        status = admin.status()
    assert status.events_by_integrity == {"ok": 120}
    assert {g.gateway_id: g.last_sequence for g in status.gateways} == {"gw-1": 60, "gw-2": 60}


def test_a_cancelled_stream_leaves_the_store_working(store: Deployment) -> None:
    chain = signed_chain(store.signing_key(1), "gw-1", 40, scene_bytes=20_000)
    with store.gateway(1) as gw:
        stream = gw.stub.Deliver(iter([s.to_proto() for s in chain]), timeout=30)
        next(stream)
        stream.cancel()
    with store.gateway(1) as gw:  # everything again: the acked ones are duplicates now
        again = gw.deliver(chain)
    assert {a.status for a in again} <= {"stored", "duplicate"}
    assert [a.integrity for a in again] == ["ok"] * 40
    with store.person("viewer") as viewer:
        rows, _ = viewer.search(EventQuery(gateway_id="gw-1", limit=100))
    assert len(rows) == 40


def test_stream_that_breaks_mid_way_gets_acks_for_what_came_before(store: Deployment) -> None:
    chain = signed_chain(store.signing_key(1), "gw-1", 3)
    requests = [s.to_proto() for s in chain]
    requests[2].events[0].event.event_id = ""  # no id: the stream is refused from here
    got = []
    with store.gateway(1) as gw, pytest.raises(grpc.RpcError) as refused:
        for ack in gw.deliver_stream(iter(requests)):
            got.append(ack.status)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert got == ["stored", "stored"]


def test_stream_with_a_small_byte_budget_still_delivers_everything_in_order(
    repo: SqlRepository,
) -> None:
    key = generate_signing_key()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    repo.gateways.register_gateway("gw-1", raw, None, 1)
    ingest = IngestService(repo, Limits())
    chain = signed_chain(key, "gw-1", 6, scene_bytes=30_000)
    refused = Ack("x-1", "rejected", None, "malformed event: test", 0)
    items: list[Delivery | Ack] = [(s.event, s.signature, s.blobs) for s in chain]
    items.insert(2, refused)
    # each event is bigger than half the budget: one waits for its ack at a time
    batches = [[i] for i in items]
    acks = [
        a
        for got in ingest.deliver_stream("gw-1", batches, in_flight=4, in_flight_bytes=40_000)
        for a in got
    ]
    assert [a.event_id for a in acks] == [
        *(s.event.event_id for s in chain[:2]),
        "x-1",
        *(s.event.event_id for s in chain[2:]),
    ]
    assert [a.status for a in acks] == ["stored"] * 2 + ["rejected"] + ["stored"] * 4


def test_a_full_disk_commits_neither_rows_nor_blobs(tmpfs_dir: Path) -> None:
    """Rows and blob bytes share one transaction: on a real full file system (2 MiB
    tmpfs) the group fails whole, and the store keeps working once there is room."""
    repo = sqlite_repository(tmpfs_dir / "store.db")
    repo.open()
    try:
        key = generate_signing_key()
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        repo.gateways.register_gateway("gw-1", raw, None, 1)
        ingest = IngestService(repo, Limits())
        big = signed_chain(key, "gw-1", 8, scene_bytes=400_000)  # 3.2 MB of evidence
        with pytest.raises(sqlite3.OperationalError, match="full"):
            ingest.deliver_many("gw-1", [(s.event, s.signature, s.blobs) for s in big])
        assert repo.events.counts().total == 0
        shas = [b.sha256 for s in big for b in s.event.blobs]
        assert repo.blobs.missing(shas) == list(dict.fromkeys(shas))
        small = signed_chain(key, "gw-1", 2, scene_bytes=20_000)
        acks = ingest.deliver_many("gw-1", [(s.event, s.signature, s.blobs) for s in small])
        assert [(a.status, a.integrity) for a in acks] == [("stored", "ok")] * 2
        for s in small:
            for ref in s.event.blobs:
                assert repo.blobs.get(ref.sha256) == s.blobs[ref.name]
    finally:
        repo.close()
