"""The reviewer's CLI loads no store, vision or ML code: checked in a fresh interpreter.

`edgewatch review ...`, `status`, `audit verify` and `watchlist list --config` run
through the real CLI entry point against a real store (mTLS on 127.0.0.1), all in one
new Python process; afterwards that process's sys.modules must hold none of the
server side or the inference stack.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.loadgen import Deployment, signed_chain

HEAVY = ("edge.store", "edge.vision", "edge.gateway", "cv2", "insightface", "onnxruntime")

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from edge.cli import main

    commands = json.loads(sys.argv[1])
    codes = [main(c) for c in commands]
    print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
    """
)


def _run_cli_fresh(commands: list[list[str]]) -> tuple[list[int], list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report["codes"], report["modules"], proc.stderr


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_reviewer_commands_load_no_store_or_ml_code(store: Deployment, tmp_path: Path) -> None:
    chain = signed_chain(store.signing_key(1), "gw-1", 2)
    with store.gateway(1) as gw:
        assert [a.status for a in gw.deliver(chain)] == ["stored", "stored"]
    event = chain[0].event.event_id
    reviewer, admin = str(store.path("reviewer.yaml")), str(store.path("admin.yaml"))
    codes, modules, err = _run_cli_fresh(
        [
            ["review", "search", "--config", reviewer, "--json"],
            ["review", "show", event, "--config", reviewer, "--json"],
            ["review", "verdict", event, "confirm", "--note", "seen", "--config", reviewer],
            ["review", "export", event, "--config", reviewer, "--out", str(tmp_path / "case")],
            ["status", "--config", admin],
            ["audit", "verify", "--config", admin],
            ["watchlist", "list", "--config", admin],
        ]
    )
    assert codes == [0] * 7, err[-2000:]
    assert (tmp_path / "case" / "MANIFEST.sha256").is_file()
    # the commands really ran their client code, so the check below means something
    assert {"edge.review.client", "edge.wire.review_mapping", "edge.api.types"} <= set(modules)
    assert _heavy(modules) == []


def test_importing_the_client_modules_loads_nothing_heavy() -> None:
    code = (
        "import json, sys, edge.review.client, edge.review.watchlist_client, edge.cli.review;"
        "print(json.dumps(sorted(sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = json.loads(proc.stdout)
    assert "edge.review.client" in modules
    assert _heavy(modules) == []
