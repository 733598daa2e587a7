"""Prometheus metrics of a real store (made by `edgewatch init`) after a real gRPC ingest,
scraped over HTTP; labels never carry personal data."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from edge.evidence.model import event_hash
from tests.support.loadgen import Deployment, serving, signed_chain

pytestmark = pytest.mark.timeout(180)
Cli = Callable[..., subprocess.CompletedProcess[str]]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, **kw: Any) -> Samples:
    r = httpx.get(f"{url}/metrics", timeout=30, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def test_counters_move_after_a_real_ingest(deployment: Deployment, cli: Cli) -> None:
    reviewer = str(deployment.path("reviewer.yaml"))
    key = deployment.signing_key(1)
    chain = signed_chain(key, "gw-1", 3)
    # sequence 4 is never delivered: 5 arrives with a chain gap
    gap = signed_chain(key, "gw-1", 1, start=5, prev_hash=event_hash(chain[-1].event))
    with serving(deployment) as server:
        url = server.web_url
        assert url is not None
        before = scrape(url)
        assert value(before, "edgewatch_events_ingested_total", gateway="gw-1",
                     status="stored", integrity="ok") == 0  # fmt: skip
        with deployment.gateway(1) as gw:
            assert [a.status for a in gw.deliver(chain + gap)] == ["stored"] * 4
            assert [a.status for a in gw.deliver(chain[:1])] == ["duplicate"]
        plate = chain[0].event.plates[0].text
        rows = cli("review", "search", "--plate", plate, "--json", "--config", reviewer)
        assert rows.returncode == 0, rows.stderr
        token = yaml.safe_load(deployment.path("reviewer.yaml").read_text())["token"]
        api = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"})
        assert api.get("/events", params={"plate": plate}).status_code == 200
        assert api.get(f"/events/{chain[1].event.event_id}").status_code == 200
        assert api.get("/events/no-such-event").status_code == 404
        after = scrape(url)
    ingested = "edgewatch_events_ingested_total"
    assert value(after, ingested, gateway="gw-1", status="stored", integrity="ok") == 3
    assert value(after, ingested, gateway="gw-1", status="stored", integrity="gap") == 1
    assert total(after, ingested, gateway="gw-1", status="duplicate") == 1
    assert value(after, "edgewatch_chain_problems_total", gateway="gw-1", integrity="gap") == 1
    assert value(after, "edgewatch_ingest_commit_seconds_count") >= 1
    assert value(after, "edgewatch_ingest_commit_events_sum") == 5
    grpc = "edgewatch_grpc_requests_total"
    assert value(after, grpc, method="/edge.v1.Ingest/Deliver", code="OK") >= 2
    assert value(after, grpc, method="/edge.v1.Review/Search", code="OK") >= 1
    http = "edgewatch_http_requests_total"
    assert value(after, http, interface="api", route="/api/v1/events", method="GET",
                 status="200") == 1  # fmt: skip
    assert value(after, http, interface="api", route="/api/v1/events/{event_id}",
                 method="GET", status="404") == 1  # fmt: skip
    assert value(after, http, interface="metrics", route="/metrics", method="GET",
                 status="200") >= 1  # fmt: skip
    assert value(after, "edgewatch_events_stored", integrity="ok") == 3
    assert value(after, "edgewatch_events_stored", integrity="gap") == 1
    assert value(after, "edgewatch_gateways") == 2
    assert value(after, "edgewatch_gateways_connected") == 1  # gw-1 delivered just now
    assert value(after, "edgewatch_gateway_last_seen_timestamp_seconds", gateway="gw-1") > 0
    assert value(after, "edgewatch_gateway_problems", gateway="gw-1") >= 1
    assert value(after, "edgewatch_retention_due_events") == 0
    assert value(after, "edgewatch_state_up") == 1
    # no viid: section, so no GA/T 1400 link metrics (tests/integration/viid has them)
    assert not [n for (n, _) in after if n.startswith("edgewatch_viid")]
    # no personal data in any label: plates, subjects, event ids, users, paths, queries
    forbidden = {plate, "粤B12345", "subj-7", "reviewer", "no-such-event"}
    forbidden |= {s.event.event_id for s in chain + gap}
    labels = {v for (_, ls) in after for _, v in ls}
    assert not {v for v in labels if any(f in v for f in forbidden)}, labels
    assert not any("?" in v or "%" in v for v in labels)


def test_metrics_need_the_scrape_token_when_one_is_configured(deployment: Deployment) -> None:
    path = deployment.path("store.yaml")
    doc = yaml.safe_load(path.read_text())
    import hashlib

    doc["web"]["metrics"] = {"token_sha256": hashlib.sha256(b"scrape-token-123").hexdigest()}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    with serving(deployment) as server:
        url = server.web_url
        refused = httpx.get(f"{url}/metrics", timeout=30)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=30)
        assert wrong.status_code == 401
        good = scrape(url, headers={"Authorization": "Bearer scrape-token-123"})
        assert value(good, "edgewatch_gateways") == 2
