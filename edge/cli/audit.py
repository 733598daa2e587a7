"""`edgewatch audit verify --config admin.yaml`: have the store recompute its audit chain."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="check the store's hash-chained audit log")
    asub = p.add_subparsers(dest="audit_command", required=True)
    v = asub.add_parser("verify", help="verify every audit entry and link (admin)")
    v.add_argument("--config", required=True, type=Path, metavar="FILE", help="admin config")
    v.add_argument("--json", action="store_true")
    v.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from edge.review.client import open_client

    with open_client(args.config) as client:
        check = client.audit_verify()
    if args.json:
        print(
            json.dumps(
                {
                    "ok": check.ok,
                    "entries": check.entries_checked,
                    "problems": list(check.problems),
                    "head_hash": check.head_hash,
                }
            )
        )
    elif check.ok:
        print(f"audit log intact: {check.entries_checked} entries, head {check.head_hash[:16]}")
    else:
        print(f"audit log BROKEN after {check.entries_checked} good entries:")
        for p in check.problems:
            print(f"  {p}")
    return 0 if check.ok else 1
