"""Two `edgewatch store serve` processes on one PostgreSQL database (scale-out).

Both ingest and both serve evidence: a gateway delivers to process A, a reviewer on
process B finds the events and downloads their images byte-exact (gRPC and REST),
events delivered to B are seen on A, and a retention purge run by B removes the
expired events and their images for A too. Real processes, real mTLS, real PostgreSQL.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import yaml

from edge.config import load_model
from edge.deployment import free_ports
from edge.review.client import StoreClient
from edge.review.config import ClientConfig
from edge.store.postgres_repo import postgres_repository
from edge.store.repository import EventQuery
from edge.store.retention import DAY_US
from tests.support.loadgen import (
    Deployment,
    GatewayClient,
    client_credentials,
    signed_chain,
    store_serving,
)

pytestmark = pytest.mark.postgres


def second_config(dep: Deployment) -> Path:
    """store.yaml of a second process: same database, its own gRPC and web ports."""
    grpc_port, web_port = free_ports(2)
    data = yaml.safe_load(dep.path("store.yaml").read_text())
    data["listen"] = f"127.0.0.1:{grpc_port}"
    data["web"]["port"] = web_port
    path = dep.path("store-b.yaml")
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def person(dep: Deployment, name: str, address: str) -> StoreClient:
    cfg = load_model(ClientConfig, dep.path(f"{name}.yaml"))
    return StoreClient(cfg.model_copy(update={"store": address}))


def gateway(dep: Deployment, n: int, address: str) -> GatewayClient:
    creds = client_credentials(dep.path("ca.pem"), dep.path(f"gw-{n}.pem"), dep.path(f"gw-{n}.key"))
    return GatewayClient(address, creds)


def test_two_processes_share_events_evidence_and_retention(
    pg_deployment: Deployment, pg_url: str, tmp_path: Path
) -> None:
    dep = pg_deployment
    b_yaml = second_config(dep)
    first = signed_chain(dep.signing_key(1), "gw-1", 6, scene_bytes=30_000)
    recent, later = first[:4], first[4:]
    old = signed_chain(
        dep.signing_key(2), "gw-2", 3, first_at_us=time.time_ns() // 1000 - 40 * DAY_US
    )
    token = load_model(ClientConfig, dep.path("reviewer.yaml")).token.get_secret_value()
    with store_serving(dep.path("store.yaml"), tmp_path / "a.log") as (a, _):
        with store_serving(b_yaml, tmp_path / "b.log") as (b, b_web):
            with gateway(dep, 1, a) as gw:
                assert [x.status for x in gw.deliver(recent, batch=2)] == ["stored"] * 4
            with gateway(dep, 2, a) as gw:
                assert [x.status for x in gw.deliver(old)] == ["stored"] * 3
            with person(dep, "reviewer", b) as rev:
                rows, _ = rev.search(EventQuery(gateway_id="gw-1", limit=10))
                assert {r.event_id for r in rows} == {s.event.event_id for s in recent}
                for s in recent:
                    names = {blob.name for blob in rev.get_event(s.event.event_id).event.blobs}
                    assert names == set(s.blobs)
                    for name, data in s.blobs.items():
                        assert rev.get_blob(s.event.event_id, name) == data
            url = f"{b_web}/api/v1/events/{recent[0].event.event_id}/blobs/scene.jpg"
            got = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert got.status_code == 200
            assert got.content == recent[0].blobs["scene.jpg"]
            with gateway(dep, 1, b) as gw:  # B ingests too; the chain continues on B
                acks = gw.deliver(later)
            assert [(x.status, x.integrity) for x in acks] == [("stored", "ok")] * 2
            with person(dep, "viewer", a) as viewer:
                for s in later:
                    assert viewer.get_blob(s.event.event_id, "scene.jpg") == s.blobs["scene.jpg"]
        # B starts again: its retention purges the 40-day-old events at start, for A too
        with store_serving(b_yaml, tmp_path / "b2.log"), person(dep, "viewer", a) as viewer:
            deadline = time.monotonic() + 30
            while viewer.search(EventQuery(gateway_id="gw-2", limit=10))[0]:
                assert time.monotonic() < deadline, "retention on B did not purge"
                time.sleep(0.2)
            rows, _ = viewer.search(EventQuery(gateway_id="gw-1", limit=10))
            assert len(rows) == 6
            with pytest.raises(Exception, match="has no blob"):
                viewer.get_blob(old[0].event.event_id, "scene.jpg")
    old_shas = {b.sha256 for s in old for b in s.event.blobs}
    kept_shas = {b.sha256 for s in first for b in s.event.blobs}
    repo = postgres_repository(pg_url)
    repo.open()
    try:
        assert old_shas - kept_shas
        assert set(repo.blobs.missing(sorted(old_shas - kept_shas))) == old_shas - kept_shas
        assert repo.blobs.missing(sorted(kept_shas)) == []
    finally:
        repo.close()
