"""`edgewatch evidence verify DIR`: check an exported evidence package offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("evidence", help="work with exported evidence packages")
    esub = p.add_subparsers(dest="evidence_command", required=True)
    v = esub.add_parser(
        "verify",
        help="verify a package using only its folder: manifest, blob hashes, signatures, "
        "chain links; exit 0 only when everything verifies",
    )
    v.add_argument("dir", type=Path, metavar="DIR", help="the package folder")
    v.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from edge.evidence.package import verify_package

    root: Path = args.dir
    problems = verify_package(root)
    if problems:
        for line in problems:
            sys.stderr.write(f"FAIL {line}\n")
        sys.stderr.write(f"{root}: {len(problems)} problem(s); the package does NOT verify\n")
        return 1
    meta = json.loads((root / "package.json").read_bytes())
    n = len(meta["events"])
    sys.stdout.write(
        f"{root}: OK: {n} event(s); every file hash, blob hash, signature and chain link verifies\n"
    )
    return 0
