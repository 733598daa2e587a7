"""Central store benchmark: ingest over gRPC+mTLS, search latency, face search latency.

Ingest (load generation in bench/ingest_load.py): a real `edgewatch store serve`
process (made by `edgewatch init`) receives signed, chained events with 50 KB of JPEG
evidence each from 1 and 8 concurrent gateways (one mTLS stream each), ``--batch``
events per Deliver request (32 = the gateway's default); an ack means blobs
fdatasync'ed + database committed. Two baselines run in the same rounds on the same
machine: "raw" commits one 50 KB row per durable transaction on the same database and
disk (what "just insert it" costs; ratio = ingest / raw), and "echo" is a gRPC server
with the store's mTLS setup that parses each request and acks it without storing (what
the Python gRPC transport alone allows on this machine; of_echo = ingest / echo).
With ``--baseline-ref REF`` a third store process runs the store code of git ref REF
(``git archive REF`` into a temporary folder, its own ``edgewatch init`` deployment),
in the same rounds: of_baseline = ingest / that store.

Search: p50/p99 of reviewer searches (plate with confusables, subject, camera + time
window, gateway + pending, newest page) at 100k events (1M with --full), through the
repository, after a bulk load through ``import_events``. Face search by photo (with
EDGE_MODELS_DIR and EDGE_EVAL_DIR set; bench/photo_search.py): p50/p99 of the whole
reviewer operation (decode, detect and embed the photo with the real model pack, search
100k templates, fetch the matched subjects' events, audit) on a real SQLite store, and
of the template gallery search alone.

    .venv/bin/python bench/ingest.py --quick     # < 10 minutes
    .venv/bin/python bench/ingest.py --quick --batch 32,1   # also one event per request
    .venv/bin/python bench/ingest.py --full      # adds 1M events
    .venv/bin/python bench/ingest.py --quick --backends sqlite --ingest-only --baseline-ref main
    .venv/bin/python bench/ingest.py --search-only --search-sizes 1000000 --backends sqlite

The last stdout line is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import checkout  # noqa: F401 - puts the checkout root on sys.path for tests.support
import numpy as np
import psycopg

from edge.deployment import init_deployment
from edge.evidence.model import (
    GENESIS_HASH,
    BlobRef,
    FaceHit,
    MatchEvent,
    PlateHit,
    canonical_bytes,
    event_hash,
)
from edge.store.plates import normalise_plate
from edge.store.postgres_repo import postgres_repository
from edge.store.repository import EventQuery, NewEvent, StoredBlob
from edge.store.sql_repo import SqlRepository
from edge.store.sqlite_repo import sqlite_repository
from edge.vision.types import FaceEmbedding
from edge.watchlist.gallery import FaceGallery
from tests.support.loadgen import Deployment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_load import (
    EVIDENCE_BYTES,
    Heads,
    delivery_rate,
    echo_process,
    encoded_chain,
    init_with,
    process_usage,
    raw_rate_pg,
    raw_rate_sqlite,
    store_process,
)
from photo_search import bench_photo_search

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROVINCES = "京津沪渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    name = "edgewatch_bench_" + secrets.token_hex(4)
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- ingest ---------------------------------------------------------------------------


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


@dataclasses.dataclass
class _Baseline:
    """The store of another checkout, on its own deployment, fed the same load."""

    dep: Deployment
    address: str
    heads: Heads
    pid: int


def _baseline(
    stack: contextlib.ExitStack, code: Path, root: Path, backend: str, batch: int
) -> _Baseline:
    url = stack.enter_context(pg_database()) if backend == "postgresql" else None
    dep = init_with(code, root, 8, url)
    proc, address = stack.enter_context(store_process(dep, code))
    heads: Heads = dict.fromkeys(range(1, 9), (1, GENESIS_HASH))
    delivery_rate(dep, address, {1: encoded_chain(dep, 1, 64, heads, batch)}, 64)
    return _Baseline(dep, address, heads, proc.pid)


def bench_ingest(
    backend: str, sizes: tuple[int, int, int], work: Path, batch: int, base: Path | None = None
) -> dict[str, Any]:
    """Rounds of (raw, echo, store and the baseline's store with 1 and 8 gateways),
    interleaved so load noise from other jobs on the machine hits all of them."""
    n1, n8, rounds = sizes
    keys = ("raw", "echo1", "one", "base1", "echo8", "eight", "base8")
    rates: dict[str, list[float]] = {k: [] for k in keys}
    #: per store ("store", "base"): CPU seconds and bytes written, summed over the rounds
    usage: dict[str, list[float]] = {"store": [0.0, 0.0, 0.0], "base": [0.0, 0.0, 0.0]}

    def timed(who: str, pid: int, rate: Callable[[], float], events: int) -> float:
        cpu0, wrote0 = process_usage(pid)
        r = rate()
        cpu1, wrote1 = process_usage(pid)
        u = usage[who]
        u[0], u[1], u[2] = u[0] + cpu1 - cpu0, u[1] + wrote1 - wrote0, u[2] + events
        return r

    with contextlib.ExitStack() as stack:
        url = stack.enter_context(pg_database()) if backend == "postgresql" else None
        root = work / f"ingest-{backend}-{batch}"
        address, _ = init_deployment(root, gateways=8, database_url=url)
        dep = Deployment(root, address)
        heads: Heads = dict.fromkeys(range(1, 9), (1, GENESIS_HASH))
        store_proc, store = stack.enter_context(store_process(dep))
        pid = store_proc.pid
        _, echo = stack.enter_context(echo_process(dep))
        warm = {1: encoded_chain(dep, 1, 64, heads, batch)}
        delivery_rate(dep, store, warm, 64)  # connections, caches
        delivery_rate(dep, echo, warm, 64)
        b = None if base is None else _baseline(stack, base, Path(f"{root}-base"), backend, batch)
        for _ in range(rounds):
            one = {1: encoded_chain(dep, 1, n1, heads, batch)}
            eight = {g: encoded_chain(dep, g, n8, heads, batch) for g in range(1, 9)}
            raw = raw_rate_pg(url, 200) if url else raw_rate_sqlite(root / "raw.db", 200)
            rates["raw"].append(raw)
            rates["echo1"].append(delivery_rate(dep, echo, one, n1))
            rate = partial(delivery_rate, dep, store, one, n1)
            rates["one"].append(timed("store", pid, rate, n1))
            if b is not None:
                one_b = {1: encoded_chain(b.dep, 1, n1, b.heads, batch)}
                rate_b = partial(delivery_rate, b.dep, b.address, one_b, n1)
                rates["base1"].append(timed("base", b.pid, rate_b, n1))
            rates["echo8"].append(delivery_rate(dep, echo, eight, 8 * n8))
            rate = partial(delivery_rate, dep, store, eight, 8 * n8)
            rates["eight"].append(timed("store", pid, rate, 8 * n8))
            if b is not None:
                eight_b = {g: encoded_chain(b.dep, g, n8, b.heads, batch) for g in range(1, 9)}
                rate_b = partial(delivery_rate, b.dep, b.address, eight_b, 8 * n8)
                rates["base8"].append(timed("base", b.pid, rate_b, 8 * n8))

    def ratio(a: str, b: str) -> float:
        return round(statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True)), 3)

    def per_event(who: str) -> dict[str, float]:
        cpu, wrote, events = usage[who]
        return {
            "cpu_us_per_event": round(cpu / events * 1e6, 1),
            "kb_written_per_event": round(wrote / events / 1000, 1),
        }

    baseline: dict[str, Any] = {"store_usage": per_event("store")}
    if base is not None:
        baseline |= {
            "baseline_usage": per_event("base"),
            "baseline_per_s_1_gateway": _spread(rates["base1"]),
            "baseline_per_s_8_gateways": _spread(rates["base8"]),
            "of_baseline_1_gateway": ratio("one", "base1"),
            "of_baseline_8_gateways": ratio("eight", "base8"),
        }
    return {
        **baseline,
        "events_per_s_1_gateway": _spread(rates["one"]),
        "events_per_s_8_gateways": _spread(rates["eight"]),
        "raw_commits_per_s": _spread(rates["raw"]),
        "echo_per_s_1_stream": _spread(rates["echo1"]),
        "echo_per_s_8_streams": _spread(rates["echo8"]),
        "ratio_1_gateway": ratio("one", "raw"),
        "ratio_8_gateways": ratio("eight", "raw"),
        "of_echo_1_gateway": ratio("one", "echo1"),
        "of_echo_8_gateways": ratio("eight", "echo8"),
        "rounds": rounds,
        "events": rounds * (n1 + 8 * n8),
        "evidence_bytes_per_event": EVIDENCE_BYTES,
        "events_per_request": batch,
    }


# --- search ---------------------------------------------------------------------------


def synthetic(
    i: int, rng: random.Random, plates: list[str], t0: int
) -> tuple[NewEvent, list[StoredBlob], str, str]:
    g = f"gw-{1 + i % 8}"
    plate = plates[rng.randrange(len(plates))]
    subject = f"s-{rng.randrange(20_000)}"
    sha = f"{i:064x}"
    event = MatchEvent(
        event_id=f"{i:08x}-0000-7000-8000-{rng.getrandbits(48):012x}",
        gateway_id=g,
        camera_id=f"cam-{rng.randrange(50)}",
        captured_at_us=t0 + i * 2_000_000,
        sequence=1 + i // 8,
        prev_hash="0" * 64,
        faces=(FaceHit(subject, 0.5 + rng.random() / 2, (1, 2, 3, 4), 0.8, "m", "face.jpg"),)
        if i % 3
        else (),
        plates=(PlateHit(subject, plate, plate, "exact", 0.9, "blue", (1, 2, 3, 4), "p", None),),
        blobs=(BlobRef("face.jpg", "face_crop", "image/jpeg", sha, 1000),) if i % 3 else (),
        models=("m",),
    )
    canonical = canonical_bytes(event)
    blobs = [StoredBlob(b.name, b.role, b.media_type, b.sha256, b.size) for b in event.blobs]
    return (
        NewEvent(event, canonical, event_hash(event), b"s" * 64, event.captured_at_us),
        blobs,
        "ok",
        "",
    )


def populate(repo: SqlRepository, n: int, rng: random.Random) -> list[str]:
    for g in range(1, 9):
        repo.gateways.register_gateway(f"gw-{g}", b"k" * 32, None, 0)
    plates = sorted(
        {
            rng.choice(PROVINCES) + rng.choice(LETTERS[:24]) + "".join(rng.choices(LETTERS, k=5))
            for _ in range(20_000)
        }
    )
    t0 = 1_700_000_000_000_000
    batch = 5000
    for start in range(0, n, batch):
        repo.events.import_events(
            [synthetic(i, rng, plates, t0) for i in range(start, min(n, start + batch))]
        )
    return plates


def search_latency(
    repo: SqlRepository, plates: list[str], n: int, rng: random.Random, reps: int
) -> dict[str, Any]:
    t0, span = 1_700_000_000_000_000, n * 2_000_000
    queries: list[Callable[[], EventQuery]] = [
        lambda: EventQuery(plate=normalise_plate(rng.choice(plates)).replace("0", "O")),
        lambda: EventQuery(subject_ids=(f"s-{rng.randrange(20_000)}",)),
        lambda: EventQuery(
            camera_id=f"cam-{rng.randrange(50)}",
            since_us=(s := t0 + rng.randrange(span)),
            until_us=s + 86_400_000_000,
        ),
        lambda: EventQuery(gateway_id=f"gw-{rng.randrange(1, 9)}", verdict="pending"),
        lambda: EventQuery(),
    ]
    times: list[float] = []
    for rep in range(reps + 1):  # the first pass only warms statement and page caches
        for make in queries:
            q = make()
            a = time.perf_counter()
            page = repo.events.search(q)
            if page.next_cursor:  # second page too: keyset paging must stay fast
                repo.events.search(dataclasses.replace(q, cursor=page.next_cursor))
            if rep:
                times.append((time.perf_counter() - a) * 1000)
    return {
        "search_p50_ms": round(pct(times, 0.5), 2),
        "search_p99_ms": round(pct(times, 0.99), 2),
        "queries": len(times),
    }


def analyze(backend: str, target: str) -> None:
    """Planner statistics, as autovacuum (PostgreSQL) or a maintenance job would keep."""
    if backend == "postgresql":
        with psycopg.connect(target, autocommit=True) as c:
            c.execute("ANALYZE")
    else:
        with contextlib.closing(sqlite3.connect(target)) as c:
            c.execute("ANALYZE")


def bench_search(backend: str, n: int, work: Path, reps: int) -> dict[str, Any]:
    rng = random.Random(7)
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            target = stack.enter_context(pg_database())
            repo = postgres_repository(target)
        else:
            target = str(work / f"search-{n}.db")
            repo = sqlite_repository(Path(target))
        repo.open()
        stack.callback(repo.close)
        t = time.perf_counter()
        plates = populate(repo, n, rng)
        analyze(backend, target)
        load_s = time.perf_counter() - t
        out = search_latency(repo, plates, n, rng, reps)
    return {"events": n, "load_s": round(load_s, 1), **out}


def bench_face_search(templates: int, reps: int = 300) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((templates, 128)).astype(np.float32)
    ids = [f"s-{i // 5}" for i in range(templates)]
    gallery = FaceGallery("mobilefacenet_128", ids, {}, matrix)
    times = []
    for _ in range(reps):
        q = rng.standard_normal(128).astype(np.float32)
        q /= np.linalg.norm(q)
        a = time.perf_counter()
        gallery.search(FaceEmbedding(q, "mobilefacenet_128"), 50)
        times.append((time.perf_counter() - a) * 1000)
    return {
        "templates": templates,
        "face_search_p50_ms": round(pct(times, 0.5), 2),
        "face_search_p99_ms": round(pct(times, 0.99), 2),
    }


def checkout_of(ref: str, into: Path) -> Path:
    """The files of git ref ``ref`` of this repository, unpacked into ``into``."""
    repo = Path(__file__).resolve().parents[1]
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small runs, < 10 minutes")
    mode.add_argument("--full", action="store_true", help="also search at 1M events")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--search-only", action="store_true", help="skip the ingest part")
    ap.add_argument("--ingest-only", action="store_true", help="skip search and face search")
    ap.add_argument(
        "--baseline-ref",
        metavar="REF",
        help="git ref whose store runs in the same ingest rounds (e.g. main)",
    )
    ap.add_argument(
        "--batch",
        default="32",
        help="events per Deliver request, comma-separated for several runs (gateway: 32)",
    )
    ap.add_argument(
        "--search-sizes", help="event counts for search, e.g. 1000000 (default by mode)"
    )
    args = ap.parse_args()
    backends = args.backends.split(",")
    results: dict[str, Any] = {"mode": "full" if args.full else "quick", "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="edgewatch-bench-") as tmp:
        work = Path(tmp)
        base = None
        if args.baseline_ref:
            base = checkout_of(args.baseline_ref, work / "baseline")
            results["baseline"] = args.baseline_ref
        sizes = (4096, 512, 5) if args.full else (2048, 256, 3)
        for b in [] if args.search_only else backends:
            for batch in (int(x) for x in args.batch.split(",")):
                key = f"ingest_{b}_batch{batch}"
                results[key] = bench_ingest(b, sizes, work, batch, base)
                print(f"{key}: {results[key]}", flush=True)
        if args.ingest_only:
            print(json.dumps(results, ensure_ascii=False))
            return 0
        counts = [100_000, 1_000_000] if args.full else [100_000]
        if args.search_sizes:
            counts = [int(n) for n in args.search_sizes.split(",")]
        for b in backends:
            for n in counts:
                key = f"search_{b}_{n // 1000}k"
                results[key] = bench_search(b, n, work, reps=40)
                print(f"{key}: {results[key]}", flush=True)
        models, evals = os.environ.get("EDGE_MODELS_DIR"), os.environ.get("EDGE_EVAL_DIR")
        if models and evals:
            results["photo_search_100k"] = bench_photo_search(
                100_000, 100_000, work, Path(models), Path(evals), populate
            )
            print(f"photo_search_100k: {results['photo_search_100k']}", flush=True)
        else:
            print("photo search skipped: set EDGE_MODELS_DIR and EDGE_EVAL_DIR", flush=True)
    results["face_search_100k"] = bench_face_search(100_000)
    if args.full:
        results["face_search_1m"] = bench_face_search(1_000_000, reps=50)
    print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
