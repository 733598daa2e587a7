"""Gateway backlog drain: how fast a gateway that was offline catches up.

What runs: a real `edgewatch store serve` process (made by `edgewatch init`, SQLite);
for gateway gw-1 a real outbox (SQLite WAL, synchronous=FULL) holding N signed, chained
events with 50 KB of JPEG evidence each, and the real ``Uplink`` (mTLS stream, requests
of ``uplink.batch_events`` events, the acks of each reply deleted from the outbox in one
transaction, heartbeats and watchlist sync beside it). The clock runs from
``Uplink.start()`` until the outbox is empty.

Baseline, interleaved in the same run and on the same store: the bench load generator
(bench/ingest_load.py) delivering the same number of pre-encoded 50 KB events as
gateway gw-2 on one stream, 32 per request: what the store itself takes. Ratio = drain
/ baseline (1.0: the gateway side costs nothing extra).

    EDGE_MODELS_DIR=... .venv/bin/python bench/drain.py --events 2000 --rounds 3

The last stdout line is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import checkout  # noqa: F401 - puts the checkout root on sys.path for tests.support

from edge.config import load_model
from edge.deployment import init_deployment
from edge.evidence.model import GENESIS_HASH
from edge.gateway.config import GatewayConfig
from edge.gateway.local_watchlist import LocalWatchlist
from edge.gateway.outbox import Outbox, outbox_path
from edge.gateway.uplink import Uplink
from tests.support.backlog import fill_outbox, outbox_health
from tests.support.loadgen import Deployment, padded_scene
from tests.support.samples import sample_event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_load import EVIDENCE_BYTES, Heads, delivery_rate, encoded_chain, store_process


def drain_rate(cfg: GatewayConfig, outbox: Outbox, watchlist: LocalWatchlist) -> float:
    n = outbox.stats().pending_events
    uplink = Uplink(cfg, outbox, watchlist, lambda: outbox_health(cfg.gateway_id, outbox), None)
    t0 = time.perf_counter()
    uplink.start()
    try:
        while outbox.stats().pending_events:
            if uplink.refused or uplink.rejected:
                raise RuntimeError(f"store refused: {uplink.refused or uplink.rejected[:3]}")
            time.sleep(0.005)
        return n / (time.perf_counter() - t0)
    finally:
        uplink.stop()


def run(events: int, rounds: int, batch: int, work: Path) -> dict[str, Any]:
    root = work / "deployment"
    address, _ = init_deployment(root, gateways=2)
    dep = Deployment(root, address)
    cfg = load_model(GatewayConfig, root / "gateway-1.yaml")
    cfg = cfg.model_copy(update={"uplink": cfg.uplink.model_copy(update={"batch_events": batch})})
    crops = sum(len(b) for k, b in sample_event(1)[1].items() if k != "scene.jpg")
    scenes = [padded_scene(i, EVIDENCE_BYTES - crops) for i in range(64)]
    heads: Heads = {2: (1, GENESIS_HASH)}
    drains: list[float] = []
    stores: list[float] = []
    outbox = Outbox(outbox_path(cfg.data_dir), cfg.outbox)
    watchlist = LocalWatchlist(cfg.data_dir / "watchlist.db", cfg.vision.match, None)
    with store_process(dep) as (_, store):
        outbox.open()
        watchlist.start()
        try:
            for _ in range(rounds):
                fill_outbox(outbox, dep.signing_key(1), "gw-1", scenes, events)
                drains.append(drain_rate(cfg, outbox, watchlist))
                requests = {2: encoded_chain(dep, 2, events, heads, 32)}
                stores.append(delivery_rate(dep, store, requests, events))
        finally:
            watchlist.stop()
            outbox.close()
    ratios = [d / s for d, s in zip(drains, stores, strict=True)]
    return {
        "events_per_round": events,
        "rounds": rounds,
        "batch_events": batch,
        "drain_events_per_s": round(statistics.median(drains), 1),
        "drain_min_max": [round(min(drains), 1), round(max(drains), 1)],
        "store_baseline_events_per_s": round(statistics.median(stores), 1),
        "drain_over_baseline": round(statistics.median(ratios), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2000, help="backlog per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", default="32,1", help="uplink.batch_events values to run")
    args = ap.parse_args()
    results: dict[str, Any] = {}
    for batch in (int(b) for b in args.batch.split(",")):
        with tempfile.TemporaryDirectory(prefix="edgewatch-drain-") as tmp:
            results[f"batch{batch}"] = run(args.events, args.rounds, batch, Path(tmp))
        print(f"batch {batch}: {results[f'batch{batch}']}", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
