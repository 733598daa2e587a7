"""The store's metrics registry and who may read /metrics (pure parts, no store)."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
from prometheus_client import generate_latest
from starlette.types import ASGIApp

from edge.store.config import MetricsConfig
from edge.store.ingest import Ack
from edge.store.metrics import StoreMetrics


def get(app: ASGIApp, headers: dict[str, str] | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://store") as c:
            return await c.get("/metrics", headers=headers)

    # a thread of its own: a session fixture (Playwright) may run a loop in this one
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, run).result()


def test_two_stores_in_one_process_keep_their_own_registries() -> None:
    a, b = StoreMetrics(), StoreMetrics()  # the global registry would refuse the second
    a.acked("gw-1", Ack("e1", "stored", "gap", "", 5))
    a.grpc_request("/edge.v1.Ingest/Deliver", "OK", 0.01)
    a.grpc_request("/made.up/Method", "UNIMPLEMENTED", 0.01)
    a.http_request("web", "unmatched", "BREW", 404, 0.001)
    text_a, text_b = generate_latest(a.registry).decode(), generate_latest(b.registry).decode()
    assert (
        'edgewatch_events_ingested_total{gateway="gw-1",integrity="gap",status="stored"} 1.0'
        in text_a
    )
    assert 'edgewatch_chain_problems_total{gateway="gw-1",integrity="gap"} 1.0' in text_a
    assert 'method="other"' in text_a and "made.up" not in text_a  # bounded method labels
    assert "BREW" not in text_a
    assert "gw-1" not in text_b


def test_metrics_are_open_only_on_loopback_unless_a_token_is_set() -> None:
    m = StoreMetrics()
    assert m.asgi_app(MetricsConfig(enabled=False), "127.0.0.1") is None
    assert m.asgi_app(MetricsConfig(), "0.0.0.0") is None
    assert m.asgi_app(MetricsConfig(), "192.0.2.10") is None
    for host in ("127.0.0.1", "::1", "localhost"):
        app = m.asgi_app(MetricsConfig(), host)
        assert app is not None
        assert get(app).status_code == 200
    digest = hashlib.sha256(b"tok-tok-tok").hexdigest()
    app = m.asgi_app(MetricsConfig(token_sha256=digest), "0.0.0.0")
    assert app is not None
    assert get(app).status_code == 401
    assert get(app, {"Authorization": "Bearer nope"}).status_code == 401
    ok = get(app, {"Authorization": "Bearer tok-tok-tok"})
    assert ok.status_code == 200 and "edgewatch_http_requests" in ok.text
