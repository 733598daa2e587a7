"""Gateway watchlist sync against a real store over mTLS: a first full snapshot, then
deltas; the list is stored locally, so matching goes on with the store down."""

from __future__ import annotations

import time
from pathlib import Path

from edge.config import MatchConfig, load_model
from edge.deployment import init_deployment
from edge.gateway.config import GatewayConfig
from edge.gateway.local_watchlist import LocalWatchlist
from edge.gateway.outbox import Outbox, outbox_path
from edge.gateway.uplink import Uplink
from edge.health import GatewayHealth
from edge.review.watchlist_client import StoreWatchlistAdmin
from tests.support.loadgen import Deployment, serving


def _health() -> GatewayHealth:
    return GatewayHealth("gw-1", 0, "test", (), 0, 0, 0, (), "mobilefacenet_128", 0, 0)


def _wait(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.05)


def test_snapshot_then_deltas_then_offline(tmp_path: Path) -> None:
    address, _ = init_deployment(tmp_path / "dep", gateways=1)
    dep = Deployment(tmp_path / "dep", address)
    cfg = load_model(GatewayConfig, dep.path("gateway-1.yaml"))
    cfg = cfg.model_copy(
        update={"uplink": cfg.uplink.model_copy(update={"heartbeat_interval_s": 1.0})}
    )
    outbox = Outbox(outbox_path(cfg.data_dir), cfg.outbox)
    wl = LocalWatchlist(cfg.data_dir / "watchlist.db", MatchConfig(), "mobilefacenet_128")
    with serving(dep), dep.person("admin") as admin:
        store = StoreWatchlistAdmin(admin)
        a = store.add_plate_subject("vendor A", ["粤B12345"])
        outbox.open()
        wl.start()
        up = Uplink(cfg, outbox, wl, _health, "mobilefacenet_128")
        up.start()
        try:
            _wait(up.synced.is_set)
            assert wl.current().match_plate("粤B12345") is not None
            assert up.stats.snapshot_syncs == 1
            store.add_plate_subject("vendor B", ["沪C54321"])
            store.remove_subject(a)
            # the heartbeat reports a newer store version: the gateway pulls deltas
            _wait(lambda: wl.current().match_plate("沪C54321") is not None)
            assert wl.current().match_plate("粤B12345") is None
            assert up.stats.delta_syncs >= 1  # counted when the changes are applied
            assert up.stats.snapshot_syncs == 1
        finally:
            up.stop()
            wl.stop()
            outbox.close()
    # store gone: a restarted gateway matches from its local file
    again = LocalWatchlist(cfg.data_dir / "watchlist.db", MatchConfig(), "mobilefacenet_128")
    again.start()
    try:
        assert again.current().match_plate("沪C54321") is not None
        assert again.current().match_plate("粤B12345") is None
    finally:
        again.stop()
