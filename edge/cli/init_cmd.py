"""`edgewatch init DIR`: a complete, secure deployment on this machine in one command
(edge/deployment.py does the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "init",
        help="create CA, certificates, keys, tokens and configs for a local deployment",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="folder to create (must be empty)")
    p.add_argument("--gateways", type=int, default=1, metavar="N", help="gateways (default 1)")
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="postgresql://... for PostgreSQL (default: SQLite DIR/store.db)",
    )
    p.add_argument("--force", action="store_true", help="overwrite files in a non-empty DIR")
    p.set_defaults(handler=run_init)


def run_init(args: argparse.Namespace) -> int:
    from edge.deployment import init_deployment

    store, cmds = init_deployment(args.dir, args.gateways, args.database_url, args.force)
    root = args.dir.resolve()
    sys.stdout.write(
        f"EdgeWatch deployment created in {root}\n"
        f"  store gRPC (mutual TLS): {store}\n"
        "  private keys and config files are mode 0600; tokens are in admin.yaml, "
        "reviewer.yaml, viewer.yaml\n\nRun:\n"
    )
    for c in cmds:
        sys.stdout.write(f"  {c}\n")
    return 0
