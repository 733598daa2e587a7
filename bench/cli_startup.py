"""Start-up of `edgewatch review search`: this checkout against a baseline checkout.

Both run the real CLI entry point (`python -c "from edge.cli import main; ..."`) in a
new process against a store address where nothing listens, so each run is start-up,
config loading, argument parsing and the import of every module the command needs,
then one refused connection. Runs alternate (this tree, baseline, ...) so load on the
box hits both alike. The baseline is an extracted older commit, e.g.

    mkdir -p /tmp/base && git archive 287ee20 edge | tar -x -C /tmp/base
    .venv/bin/python bench/cli_startup.py --baseline /tmp/base --runs 9

The last stdout line is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import checkout

from edge.deployment import free_ports, init_deployment

_SCRIPT = (
    "import sys; from edge.cli import main; code = main(sys.argv[1:]);"
    "heavy = sorted({m.split('.')[0] for m in sys.modules"
    " if m.split('.')[0] in ('cv2', 'insightface', 'onnxruntime')}"
    " | {'.'.join(m.split('.')[:2]) for m in sys.modules"
    " if m.startswith(('edge.store', 'edge.vision'))});"
    "print(len(sys.modules), ','.join(heavy) or '-', code, file=sys.stderr)"
)


def _run(tree: Path, config: Path) -> tuple[float, int, str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    argv = ["review", "search", "--config", str(config), "--json"]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *argv], capture_output=True, text=True, env=env, cwd=tree
    )
    elapsed = time.perf_counter() - t0
    modules, heavy, code = proc.stderr.strip().splitlines()[-1].split()
    if code != "1" or "reachable" not in proc.stderr:  # "unreachable" before, "not reachable" now
        raise RuntimeError(f"unexpected run in {tree}: {proc.stderr[-500:]}")
    return elapsed, int(modules), heavy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", type=Path, required=True, help="folder holding an older edge/")
    p.add_argument("--runs", type=int, default=9)
    args = p.parse_args()
    trees = {"this": checkout.ROOT, "baseline": args.baseline.resolve()}
    with tempfile.TemporaryDirectory() as tmp:
        init_deployment(Path(tmp) / "dep", gateways=1)
        config = Path(tmp) / "dep" / "reviewer.yaml"
        text = config.read_text()
        dead = f"127.0.0.1:{free_ports(1)[0]}"  # nothing listens there
        config.write_text("\n".join(
            f"store: {dead}" if line.startswith("store:") else line for line in text.splitlines()
        ) + "\n")  # fmt: skip
        times: dict[str, list[float]] = {k: [] for k in trees}
        seen: dict[str, tuple[int, str]] = {}
        for _ in range(args.runs):
            for name, tree in trees.items():
                elapsed, modules, heavy = _run(tree, config)
                times[name].append(elapsed)
                seen[name] = (modules, heavy)
    result = {
        name: {
            "median_s": round(statistics.median(t), 3),
            "min_s": round(min(t), 3),
            "modules": seen[name][0],
            "heavy": seen[name][1],
        }
        for name, t in times.items()
    }
    result["ratio_median"] = round(
        result["baseline"]["median_s"] / result["this"]["median_s"],
        2,  # type: ignore[index]
    )
    for name in trees:
        r = result[name]
        print(f"{name:9} median {r['median_s']:.3f} s  min {r['min_s']:.3f} s  "  # type: ignore[index]
              f"modules {r['modules']}  heavy: {r['heavy']}")  # type: ignore[index]  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
