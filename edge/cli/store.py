"""`edgewatch store serve --config store.yaml`: run the central evidence store.

SIGTERM or SIGINT stops it gracefully: new calls are refused, calls in flight finish
(up to --grace seconds), storage is closed, exit code 0.

`edgewatch store migrate-blobs --config store.yaml --from FOLDER` moves the blob folder
of an older store (pack files) into the store's database (edge/store/blob_migration.py).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("store", help="run the central evidence store")
    ssub = p.add_subparsers(dest="store_command", required=True)
    s = ssub.add_parser("serve", help="serve gRPC (mutual TLS) until SIGTERM/SIGINT")
    s.add_argument("--config", required=True, type=Path, metavar="FILE", help="store.yaml")
    s.add_argument(
        "--models", type=Path, metavar="DIR", help="model pack for face photos (default: config)"
    )
    s.add_argument(
        "--grace", type=float, default=10.0, metavar="S", help="seconds for in-flight calls"
    )
    s.set_defaults(handler=run_serve)
    m = ssub.add_parser(
        "migrate-blobs",
        help="move an older store's blob folder into the database (sha256 verified; "
        "safe to run again)",
    )
    m.add_argument("--config", required=True, type=Path, metavar="FILE", help="store.yaml")
    m.add_argument(
        "--from", dest="folder", required=True, type=Path, metavar="DIR", help="old blob folder"
    )
    m.add_argument("--json", action="store_true", help="print the counts as JSON")
    m.set_defaults(handler=run_migrate_blobs)


def run_migrate_blobs(args: argparse.Namespace) -> int:
    from edge.config import load_model
    from edge.store.blob_migration import migrate_blobs
    from edge.store.config import StoreConfig
    from edge.store.server import build_database
    from edge.store.sql_repo import SqlRepository

    config = load_model(StoreConfig, args.config)
    repo = SqlRepository(build_database(config))
    repo.open()
    try:
        report = migrate_blobs(args.folder, repo.blobs)
    finally:
        repo.close()
    if args.json:
        doc = {
            "found": report.found,
            "copied": report.copied,
            "present": report.present,
            "verified": report.verified,
            "damaged": [{"where": d.where, "why": d.why} for d in report.damaged],
        }
        print(json.dumps(doc))
    else:
        print(
            f"{args.folder}: {report.found} blobs found, {report.copied} copied, "
            f"{report.present} already in the database, {report.verified} verified by "
            f"sha256 in the database, {len(report.damaged)} damaged"
        )
        for d in report.damaged:
            print(f"damaged: {d.where}: {d.why}", file=sys.stderr)
    return 0 if report.ok else 1


def run_serve(args: argparse.Namespace) -> int:
    from edge.config import load_model
    from edge.store.config import StoreConfig
    from edge.store.server import StoreServer

    config = load_model(StoreConfig, args.config)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = StoreServer(config, models_dir=args.models)
    try:
        port = server.start()
        print(f"edgewatch store serving on {config.listen} (port {port})", flush=True)
        if server.web_url:
            print(f"reviewer web page: {server.web_url}/", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop(args.grace)
    print("edgewatch store stopped", file=sys.stderr, flush=True)
    return 0
