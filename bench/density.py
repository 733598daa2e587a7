"""Gateway density: how many live 1080p RTSP cameras one gateway process holds while
every watchlisted subject that passes a camera once is delivered (issue 9).

For each N in --cameras and each variant: a real store (mTLS, SQLite) with the
watchlist enrolled through its admin API, ONE gateway process (`edgewatch gateway run`,
shipped defaults) on N cameras of a real GStreamer RTSP server in live mode, started
once the gateway is up, so each camera plays its scene (tests/support/scenes.py:
1080p / 25 fps H.264, one listed person, three listed and three unlisted cars, each
passing once) exactly once. After the pass, --settle seconds and until the gateway is
idle (it may still work off a backlog), per variant and N:

* single-pass recall: listed passes delivered (an event of that camera naming the
  subject, captured after the pass began) / listed passes shown; ``late``: delivered
  passes first captured > 4 s after the pass ended (the gateway fell behind the live
  stream: its evidence time is wrong); ``unseen``: passes before the camera connected
* unlisted plates delivered (must be 0); ``other``: events that match no pass
* frame age at analysis p99 over all cameras (the gateway's /metrics; n/a without it)
  and frames dropped (counter sum)
* CPU cores used by the gateway process while subjects pass ((utime+stime) / wall)
* peak RSS (VmHWM), ``conn s``: the last camera's first connection after playback began

Each camera's stream starts with empty street (``--lead``, by default 9 s + 3.5 s per
further camera, because main's gateway opens RTSP cameras one after another and each
open waits for a keyframe of the live stream); the server stops after one pass.

Variants: ``current`` (this tree), ``baseline`` (``--baseline REF`` exported with
``git archive`` into the work dir, run the same way in the same session) and ``sub``
(this tree; each camera also has a 640x360 sub-stream, analysed via ``detect_source``,
where the gateway supports it). Headline: the largest N at 100 % single-pass recall,
per variant.

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        .venv/bin/python bench/density.py --quick            # N=1,2, current: ~2 min
    ... bench/density.py --variants current,baseline --baseline main   # full: see RESULTS

The last stdout line is one JSON object with every run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support and the current edge package

from tests.support.density_run import RunResult, RunSetup, Variant, run_once  # noqa: E402
from tests.support.scenes import DEFAULT_CACHE, camera_streams  # noqa: E402

DEFAULT_CAMERAS = "1,2,4,8,12,16,24"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", default=DEFAULT_CAMERAS, help="camera counts, comma-separated")
    p.add_argument(
        "--variants",
        default="current,baseline",
        help="current, baseline, sub (current tree analysing 640x360 sub-streams)",
    )
    p.add_argument("--baseline", default="main", metavar="REF", help="git ref of the baseline")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="rendered scenes")
    p.add_argument("--workdir", type=Path, help="deployments and logs (kept); default temp")
    p.add_argument(
        "--settle", type=float, default=5.0, help="seconds after the pass, then until idle"
    )
    p.add_argument("--scenes", type=int, default=4, help="distinct scenes rendered")
    p.add_argument(
        "--lead",
        type=float,
        help="seconds of empty street before the first pass; default 9 + 3.5 per extra "
        "camera (main's gateway opens RTSP cameras one after another, each waiting for "
        "a keyframe of the live stream: every variant must be connected before subjects)",
    )
    p.add_argument("--quick", action="store_true", help="N=1,2 and current only (~2 min)")
    p.add_argument(
        "--extra",
        type=Path,
        help="YAML of gateway settings merged into every variant (e.g. vision.privacy off)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.cameras = "1,2"
        if "--variants" not in argv:
            args.variants = "current"
    try:
        args.counts = sorted({int(v) for v in args.cameras.split(",")})
    except ValueError:
        p.error(f"--cameras {args.cameras!r}: expected comma-separated integers like 1,2,4")
    if not args.counts or min(args.counts) < 1 or max(args.counts) > 28:
        p.error(f"--cameras {args.cameras!r}: each count must be 1..28")
    args.variant_names = [v for v in args.variants.split(",") if v]
    bad = [v for v in args.variant_names if v not in ("current", "baseline", "sub")]
    if bad or not args.variant_names:
        p.error(f"--variants {args.variants!r}: allowed current, baseline, sub")
    return args


def _dir_env(name: str) -> Path:
    value = os.environ.get(name)
    if not value or not Path(value).is_dir():
        raise SystemExit(f"density: {name}={value!r} is not a folder; export it")
    return Path(value)


def export_tree(ref: str, dest: Path) -> Path:
    """``git archive REF`` unpacked into ``dest`` (the baseline's code, run as is)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise SystemExit(f"density: --baseline {ref!r}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def fmt(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def table(results: list[RunResult]) -> str:
    head = f"{'variant':<9} {'N':>3} {'recall':>11} {'unlisted':>8} {'other':>5} "
    head += f"{'age p99 s':>9} {'dropped':>8} {'cores':>5} {'RSS MB':>6} {'conn s':>6} unseen late"
    lines = [head]
    for r in results:
        recall = f"{r.delivered}/{r.shown} {100 * r.recall:3.0f}%"
        lines.append(
            f"{r.variant:<9} {r.cameras:>3} {recall:>11} {r.unlisted_delivered:>8} "
            f"{r.unattributed_events:>5} {fmt(r.frame_age_p99_s, '.2f'):>9} "
            f"{fmt(r.frames_dropped, '.0f'):>8} {r.cores:>5.2f} {r.peak_rss_mb:>6.0f} "
            f"{fmt(r.connect_max_s, '.1f'):>6} {r.unseen:>6} {r.late:>4}"
            + (f"  ERROR {r.error}" if r.error else "")
        )
        if r.missed:
            lines.append(f"{'':13} missed: {', '.join(r.missed)}")
    return "\n".join(lines)


def headline(results: list[RunResult], variants: list[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for v in variants:
        ok = [r.cameras for r in results if r.variant == v and not r.error and r.recall == 1.0]
        out[v] = max(ok) if ok else None
    return out


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    eval_dir, models_dir = _dir_env("EDGE_EVAL_DIR"), _dir_env("EDGE_MODELS_DIR")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="edgewatch-density-"))
    t0 = time.monotonic()
    specs, _ = camera_streams(max(args.counts), eval_dir, models_dir, args.cache, args.scenes)
    print(f"scenes ready in {time.monotonic() - t0:.0f} s ({len(specs)} distinct)", flush=True)
    trees = {"current": ROOT, "sub": ROOT}
    if "baseline" in args.variant_names:
        trees["baseline"] = export_tree(args.baseline, workdir / "baseline-tree")
    results: list[RunResult] = []
    try:
        for n in args.counts:
            lead = args.lead if args.lead is not None else 9.0 + 3.5 * (n - 1)
            used, mine = camera_streams(
                n,
                eval_dir,
                models_dir,
                args.cache,
                args.scenes,
                lead,
                out_dir=workdir / "streams",
                sub="sub" in args.variant_names,
            )
            extra = yaml.safe_load(args.extra.read_text(encoding="utf-8")) if args.extra else {}
            setup = RunSetup(workdir, eval_dir, models_dir, used, mine, args.settle, extra)
            for name in args.variant_names:
                r = run_once(setup, Variant(name, trees[name], sub=name == "sub"))
                results.append(r)
                print(table([r]).splitlines()[1], flush=True)
            shutil.rmtree(workdir / "streams", ignore_errors=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)  # holds a CA key and tokens
    print(table(results))
    best = headline(results, args.variant_names)
    print(
        "largest N at 100 % single-pass recall: " + ", ".join(f"{k} {v}" for k, v in best.items())
    )
    summary = {
        "bench": "density",
        "baseline_ref": args.baseline if "baseline" in trees else None,
        "headline": best,
        "seconds": round(time.monotonic() - t0),
        "runs": [{**asdict(r), "recall": round(r.recall, 4)} for r in results],
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
