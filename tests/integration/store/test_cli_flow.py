"""The reviewer's and operator's commands against a real `edgewatch store serve` process."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from tests.support.loadgen import Deployment, signed_chain

Cli = Callable[..., subprocess.CompletedProcess[str]]
Spawn = Callable[[Deployment], AbstractContextManager[subprocess.Popen[str]]]


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, (r.args, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    return r.stdout


def test_review_search_show_verdict_export_verify(
    deployment: Deployment, spawn_store: Spawn, cli: Cli
) -> None:
    reviewer = str(deployment.path("reviewer.yaml"))
    chain = signed_chain(deployment.signing_key(1), "gw-1", 3)
    ids = [s.event.event_id for s in chain]
    with spawn_store(deployment) as proc:
        with deployment.gateway(1) as gw:
            assert [a.status for a in gw.deliver(chain)] == ["stored"] * 3
        rows: list[dict[str, Any]] = json.loads(
            ok(cli("review", "search", "--config", reviewer, "--plate", "粤B 12345", "--json"))
        )
        assert [r["id"] for r in rows] == ids[::-1]
        keys = {"id", "time", "gateway_id", "camera_id", "kind", "plate", "subject_id", "label",
                "similarity", "verdict", "integrity"}  # fmt: skip
        assert keys <= set(rows[0])
        assert rows[0]["plate"] == "粤B12345" and rows[0]["verdict"] == "pending"
        assert rows[0]["integrity"] == "ok" and rows[0]["kind"] == "linked"
        # --config before the sub-command works too (as `edgewatch init` prints it)
        again = json.loads(
            ok(cli("review", "--config", reviewer, "search", "--limit", "1", "--json"))
        )
        assert [r["id"] for r in again] == [ids[-1]]
        shown = json.loads(ok(cli("review", "show", ids[1], "--config", reviewer, "--json")))
        assert shown["event"]["sequence"] == 2 and shown["integrity"] == "ok"
        out = ok(cli("review", "verdict", ids[1], "confirm", "--note", "plate readable",
                     "--config", reviewer))  # fmt: skip
        assert "confirmed by reviewer" in out
        confirmed = json.loads(
            ok(cli("review", "search", "--verdict", "confirmed", "--config", reviewer, "--json"))
        )
        assert [r["id"] for r in confirmed] == [ids[1]]
        package = deployment.root / "case-17"
        ok(cli("review", "export", ids[1], ids[2], "--config", reviewer, "--out", str(package)))
        ok(cli("evidence", "verify", str(package)))
        audit = json.loads((package / "audit.json").read_text())
        assert {"review.verdict", "review.export"} <= {a["action"] for a in audit}
        verify = ok(cli("audit", "verify", "--config", str(deployment.path("admin.yaml"))))
        assert "audit log intact" in verify
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_tampered_export_fails_verification(
    deployment: Deployment, spawn_store: Spawn, cli: Cli
) -> None:
    chain = signed_chain(deployment.signing_key(1), "gw-1", 1)
    package = deployment.root / "pkg"
    with spawn_store(deployment), deployment.gateway(1) as gw:
        gw.deliver(chain)
        ok(cli("review", "export", chain[0].event.event_id, "--out", str(package),
               "--config", str(deployment.path("reviewer.yaml"))))  # fmt: skip
    scene = next(package.rglob("scene.jpg"))
    scene.write_bytes(scene.read_bytes()[:-10] + b"0123456789")
    r = cli("evidence", "verify", str(package))
    assert r.returncode != 0


def test_watchlist_status_and_audit_commands(
    deployment: Deployment, spawn_store: Spawn, cli: Cli
) -> None:
    admin = str(deployment.path("admin.yaml"))
    with spawn_store(deployment):
        sid = ok(cli("watchlist", "add-plate", "--config", admin, "--label", "vendor cart 3",
                     "粤B12345", "粤b·54321")).strip()  # fmt: skip
        listed = [
            json.loads(x)
            for x in ok(cli("watchlist", "list", "--config", admin, "--json")).splitlines()
        ]
        assert listed == [{"subject_id": sid, "label": "vendor cart 3", "faces": 0,
                           "plates": ["粤B12345", "粤B54321"]}]  # fmt: skip
        bad = cli("watchlist", "add-plate", "--config", admin, "--label", "x", "ABC")
        assert bad.returncode == 1 and "refused" in bad.stderr and "Traceback" not in bad.stderr
        refused = cli("watchlist", "add-plate", "--config", str(deployment.path("reviewer.yaml")),
                      "--label", "x", "粤B12345")  # fmt: skip
        assert refused.returncode == 1 and "needs admin" in refused.stderr
        status = json.loads(ok(cli("status", "--config", admin, "--json")))
        assert status["watchlist_version"] == 2 and status["database_ok"]
        assert [g["gateway_id"] for g in status["gateways"]] == ["gw-1", "gw-2"]
        assert "removed" in ok(cli("watchlist", "remove", "--config", admin, sid))
        audit = json.loads(ok(cli("audit", "verify", "--config", admin, "--json")))
        assert audit["ok"] and audit["entries"] >= 4
