"""PostgreSQL restarts under a running store: ingest goes on, nothing acked is lost.

A throwaway cluster (tests/support/pg_cluster.py; never the machine's shared one) is
restarted with a fast shutdown while a gateway streams events to a real `store serve`
process. The gateway side resends what was not acked, as the real uplink does; the
store's pool (psycopg_pool, connections checked when taken) replaces the connections
the restart killed, so every event ends up acked and every acked event is stored with
its images.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import psycopg
import pytest

from edge.deployment import init_deployment
from edge.errors import StoreError
from edge.evidence.model import event_hash
from edge.review.client import StoreClient
from edge.store.config import PostgresPool
from edge.store.postgres_repo import PostgresDatabase, postgres_repository
from edge.store.repository import EventQuery
from edge.wire.v1 import ingest_pb2
from tests.support.loadgen import Deployment, SignedSample, signed_chain, store_serving
from tests.support.pg_cluster import ThrowawayCluster

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    c = ThrowawayCluster()
    if not c.available:
        pytest.skip("no PostgreSQL server binaries (pg_config --bindir) to make a cluster")
    c.start()
    try:
        yield c
    finally:
        c.stop()


def paced(samples: Sequence[SignedSample], pause_s: float) -> Iterator[ingest_pb2.DeliverRequest]:
    for s in samples:
        yield s.to_proto()
        time.sleep(pause_s)


def pump(dep: Deployment, chain: Sequence[SignedSample], acks: dict[str, str]) -> None:
    """Deliver ``chain`` until every event is acked, resending after a broken stream."""
    done, deadline = 0, time.monotonic() + 120
    while done < len(chain) and time.monotonic() < deadline:
        try:
            with dep.gateway(1) as gw:
                for ack in gw.deliver_stream(paced(chain[done:], 0.02), timeout=60):
                    acks[ack.event_id] = ack.status
                    done += 1
        except grpc.RpcError:
            time.sleep(0.2)


def test_ingest_continues_after_a_postgres_restart_and_nothing_acked_is_lost(
    cluster: ThrowawayCluster, tmp_path: Path
) -> None:
    with psycopg.connect(cluster.admin_url, autocommit=True) as c:
        c.execute("CREATE DATABASE edgewatch")
    url = cluster.admin_url.rsplit("/", 1)[0] + "/edgewatch"
    address, _ = init_deployment(tmp_path / "dep", gateways=1, database_url=url)
    dep = Deployment(tmp_path / "dep", address)
    chain = signed_chain(dep.signing_key(1), "gw-1", 80, scene_bytes=8_000)
    acks: dict[str, str] = {}
    with store_serving(dep.path("store.yaml"), tmp_path / "store.log"):
        sender = threading.Thread(target=pump, args=(dep, chain, acks))
        sender.start()
        while len(acks) < 15:  # the stream is running and has committed events
            assert sender.is_alive(), "delivery stopped before the restart"
            time.sleep(0.05)
        cluster.restart()
        during = len(acks)
        sender.join(150)
        assert not sender.is_alive()
        assert during < len(chain), "the restart came after the last event: nothing tested"
        assert {acks.get(s.event.event_id) for s in chain} <= {"stored", "duplicate"}
        after = signed_chain(  # a fresh stream after the restart works at once
            dep.signing_key(1), "gw-1", 3, start=81, prev_hash=event_hash(chain[-1].event)
        )
        with dep.gateway(1) as gw:
            assert [a.status for a in gw.deliver(after)] == ["stored"] * 3
        with dep.person("viewer") as viewer:
            assert _stored_ids(viewer) == {s.event.event_id for s in [*chain, *after]}
            for s in chain[during - 3 : during + 3]:  # around the restart
                for name, data in s.blobs.items():
                    assert viewer.get_blob(s.event.event_id, name) == data


def _stored_ids(viewer: StoreClient) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        rows, cursor = viewer.search(EventQuery(gateway_id="gw-1", limit=50, cursor=cursor))
        ids.update(r.event_id for r in rows)
        if not cursor:
            return ids


def test_a_wrong_address_fails_fast_naming_the_cause_not_the_password() -> None:
    url = "postgresql://postgres:s3cret-pw@127.0.0.1:1/edgewatch"  # nothing listens on 1
    repo = postgres_repository(url, PostgresPool(connect_timeout_s=2))
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"cannot connect to PostgreSQL: .*refused") as e:
        repo.open()
    assert time.monotonic() - started < 15
    assert "s3cret-pw" not in str(e.value)


def test_checkout_waits_at_most_the_configured_timeout(pg_url: str) -> None:
    db = PostgresDatabase(pg_url, PostgresPool(max_size=1, checkout_timeout_s=0.5))
    db.open()
    try:
        with db.read() as tx:  # the only connection is taken
            assert tx.row("SELECT 1") == (1,)
            with pytest.raises(StoreError, match=r"no PostgreSQL connection within 0.5 s"):
                db.read().__enter__()
        with db.read() as tx:  # given back: usable again
            assert tx.row("SELECT 2") == (2,)
    finally:
        db.close()
