"""The real uplink draining a real outbox into a real store over mTLS (127.0.0.1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.config import load_model
from edge.deployment import init_deployment
from edge.gateway.config import GatewayConfig
from edge.gateway.local_watchlist import LocalWatchlist
from edge.gateway.outbox import Outbox, outbox_path
from edge.gateway.uplink import Uplink
from edge.store.repository import EventQuery
from tests.support.backlog import fill_outbox, outbox_health
from tests.support.loadgen import Deployment, padded_scene, serving


class Gateway:
    """gw-1's outbox, watchlist file and uplink, built from its `edgewatch init` config."""

    def __init__(self, dep: Deployment, **uplink: object) -> None:
        cfg = load_model(GatewayConfig, dep.path("gateway-1.yaml"))
        self.config = cfg.model_copy(
            update={
                "uplink": cfg.uplink.model_copy(
                    update={"backoff_initial_s": 0.05, "backoff_max_s": 0.2, **uplink}
                )
            }
        )
        self.key = dep.signing_key(1)
        self.outbox = Outbox(outbox_path(self.config.data_dir), self.config.outbox)
        self.watchlist = LocalWatchlist(
            self.config.data_dir / "watchlist.db", self.config.vision.match, None
        )
        self.uplink = Uplink(
            self.config,
            self.outbox,
            self.watchlist,
            lambda: outbox_health("gw-1", self.outbox),
            None,
        )

    def drain(self, timeout: float = 60.0) -> None:
        self.uplink.start()
        deadline = time.monotonic() + timeout
        while self.outbox.stats().pending_events and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.outbox.stats().pending_events == 0, self.uplink.stats


@pytest.fixture
def dep(tmp_path: Path) -> Deployment:
    address, _ = init_deployment(tmp_path / "d", gateways=1)
    return Deployment(tmp_path / "d", address)


@pytest.fixture
def scenes() -> list[bytes]:
    return [padded_scene(i, 20_000) for i in range(8)]


@pytest.fixture
def gateway(dep: Deployment) -> Iterator[Gateway]:
    gw = Gateway(dep)
    gw.outbox.open()
    gw.watchlist.start()
    yield gw
    gw.uplink.stop()
    gw.watchlist.stop()
    gw.outbox.close()


def _stored(dep: Deployment) -> list[tuple[int, str]]:
    with dep.person("viewer") as viewer:
        rows, _ = viewer.search(EventQuery(gateway_id="gw-1", limit=500))
    return sorted((r.sequence, r.integrity) for r in rows)


def test_a_backlog_is_delivered_in_batches_exactly_once(
    dep: Deployment, gateway: Gateway, scenes: list[bytes]
) -> None:
    fill_outbox(gateway.outbox, gateway.key, "gw-1", scenes, 150)
    with serving(dep):
        gateway.drain()
        stored = _stored(dep)
    assert stored == [(seq, "ok") for seq in range(1, 151)]
    stats = gateway.uplink.stats
    assert (stats.delivered, stats.duplicates, gateway.outbox.stats().acked) == (150, 0, 150)
    assert stats.reconnects <= 2  # one stream carried the backlog


def test_batches_shrink_to_what_the_store_accepts(
    dep: Deployment, scenes: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    dep.edit_store_config(limits={"max_events_per_message": 5})
    gw = Gateway(dep, batch_events=32)
    gw.outbox.open()
    gw.watchlist.start()
    try:
        fill_outbox(gw.outbox, gw.key, "gw-1", scenes, 40)
        with serving(dep):
            gw.drain()
            stored = _stored(dep)
    finally:
        gw.uplink.stop()
        gw.watchlist.stop()
        gw.outbox.close()
    assert stored == [(seq, "ok") for seq in range(1, 41)]
    assert gw.uplink.batch_events <= 5 and not gw.uplink.rejected
    assert "sending smaller requests" in caplog.text


def test_an_event_too_large_for_the_store_is_quarantined_not_blocking(
    dep: Deployment, gateway: Gateway, scenes: list[bytes]
) -> None:
    dep.edit_store_config(limits={"max_message_bytes": 1 << 20})
    fill_outbox(gateway.outbox, gateway.key, "gw-1", scenes, 6)
    fill_outbox(gateway.outbox, gateway.key, "gw-1", [padded_scene(99, 1_500_000)], 1)
    fill_outbox(gateway.outbox, gateway.key, "gw-1", scenes, 5)
    with serving(dep):
        gateway.drain()
        stored = _stored(dep)
    assert [seq for seq, _ in stored] == [*range(1, 7), *range(8, 13)]
    assert dict(stored)[8] == "gap"  # the store says what is missing, never hides it
    [(seq, _, reason)] = gateway.outbox.quarantined()
    assert seq == 7 and "too large for the store" in reason
