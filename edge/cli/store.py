"""`edgewatch store serve --config store.yaml`: run the central evidence store.

SIGTERM or SIGINT stops it gracefully: new calls are refused, calls in flight finish
(up to --grace seconds), storage is closed, exit code 0.
"""

from __future__ import annotations

import argparse
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
