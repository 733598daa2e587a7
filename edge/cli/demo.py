"""`edgewatch demo`: the whole product on this machine, in one command."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.api.types import EventRow


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run a local store + gateway on sample pictures")
    p.add_argument("--no-serve", action="store_true", help="exit after printing the matches")
    p.add_argument(
        "--dir",
        type=Path,
        help="deployment folder, kept (default: a temporary one, removed at exit)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary deployment (it holds a CA private key) and say where",
    )
    p.add_argument("--models", type=Path, metavar="DIR", help="model pack (else EDGE_MODELS_DIR)")
    p.add_argument("--deadline", type=float, default=600.0, metavar="SECONDS")
    p.set_defaults(handler=run)


def _table(rows: list[EventRow]) -> str:
    lines = [
        f"{'time (UTC)':20} {'camera':11} {'kind':6} {'plate':10} {'subject':16} "
        f"{'sim':>5}  integrity"
    ]
    for r in rows:
        t = datetime.fromtimestamp(r.captured_at_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")
        plate = ",".join(r.plate_texts) or "-"
        sim = f"{r.best_similarity:.2f}" if r.best_similarity is not None else "-"
        who = r.label or (r.subject_ids[0] if r.subject_ids else "-")
        lines.append(
            f"{t:20} {r.camera_id:11} {r.kind:6} {plate:10} {who[:16]:16} {sim:>5}  {r.integrity}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from edge.config import resolve_models_dir
    from edge.demo import Demo

    models = resolve_models_dir(args.models)
    eval_env = os.environ.get("EDGE_EVAL_DIR")
    eval_dir = Path(eval_env) if eval_env and Path(eval_env).is_dir() else None
    temporary = args.dir is None
    root = args.dir or Path(tempfile.mkdtemp(prefix="edgewatch-demo-"))
    print(f"demo deployment in {root}{' (temporary)' if temporary else ''}", flush=True)
    demo = Demo(root, models, eval_dir, args.deadline)
    try:
        result = demo.start()
        print(f"gateway: {result.delivered_message}")
        print(_table(result.events), flush=True)
        print(
            f"history: {result.history_events} matches of the last two weeks at "
            f"{result.locations} key locations (gateway gw-2); see the analytics page",
            flush=True,
        )
        if not args.no_serve:
            _serve(root, result.web_url)
    finally:
        demo.stop()
        kept = _leave(root, remove=temporary and not args.keep)
    summary = {
        "events": len(result.events),
        "faces": sum(1 for r in result.events if r.kind in ("face", "linked")),
        "plates": sum(1 for r in result.events if r.kind in ("plate", "linked")),
        "integrity_ok": all(r.integrity == "ok" for r in result.events),
        "history_events": result.history_events,
        "locations": result.locations,
        "dir": str(root) if kept else None,
    }
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0


def _leave(root: Path, remove: bool) -> bool:
    """Remove the demo's deployment, or say where it stays: it holds the private key of
    its CA, which anyone could use to mint certificates that deployment trusts."""
    if remove:
        shutil.rmtree(root, ignore_errors=True)
        print(f"demo deployment removed ({root}); --keep keeps it", flush=True)
        return False
    print(
        f"demo deployment kept in {root}: it holds the CA's private key (ca.key) and "
        "tokens; delete the folder when done",
        flush=True,
    )
    return True


def _serve(root: Path, web_url: str | None) -> None:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    where = web_url or "(web page not enabled)"
    print(
        f"reviewer web page: {where}  (log in as 'reviewer' or 'admin' with the token in "
        f"{root}/reviewer.yaml or admin.yaml); Ctrl-C stops",
        flush=True,
    )
    print(
        f"CLI: edgewatch review search --config {root}/reviewer.yaml", file=sys.stderr, flush=True
    )
    while not stop.wait(0.5):
        pass
