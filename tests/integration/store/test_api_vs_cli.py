"""The REST API and the reviewer CLI (gRPC) answer the same, against one real store
made by `edgewatch init`: search rows, event details, export packages, audit."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.loadgen import Deployment, serving, signed_chain

pytestmark = pytest.mark.timeout(180)
Cli = Callable[..., subprocess.CompletedProcess[str]]


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, (r.args, r.stdout, r.stderr)
    return r.stdout


def token(dep: Deployment, user: str) -> dict[str, str]:
    doc = yaml.safe_load(dep.path(f"{user}.yaml").read_text())
    return {"Authorization": f"Bearer {doc['token']}"}


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_api_answers_what_the_cli_prints(deployment: Deployment, cli: Cli, tmp_path: Path) -> None:
    reviewer = str(deployment.path("reviewer.yaml"))
    chain = signed_chain(deployment.signing_key(1), "gw-1", 4)
    ids = [s.event.event_id for s in chain]
    with serving(deployment) as server:
        assert server.web_url is not None
        with deployment.gateway(1) as gw:
            assert [a.status for a in gw.deliver(chain)] == ["stored"] * 4
        ok(cli("review", "verdict", ids[1], "confirm", "--note", "seen", "--config", reviewer))
        with httpx.Client(base_url=f"{server.web_url}/api/v1", timeout=60) as api:
            auth = token(deployment, "reviewer")
            rows = json.loads(ok(cli("review", "search", "--json", "--config", reviewer)))
            page = api.get("/events", headers=auth).json()
            assert page["events"] == rows and page["next"] is None
            plate = ["--plate", "粤B12345", "--verdict", "confirmed"]
            rows = json.loads(ok(cli("review", "search", *plate, "--json", "--config", reviewer)))
            got = api.get(
                "/events", params={"plate": "粤B12345", "verdict": "confirmed"}, headers=auth
            )
            assert got.json()["events"] == rows and [r["id"] for r in rows] == [ids[1]]
            shown = json.loads(ok(cli("review", "show", ids[1], "--json", "--config", reviewer)))
            detail: dict[str, Any] = api.get(f"/events/{ids[1]}", headers=auth).json()
            assert {k: v for k, v in detail.items() if k != "blobs"} == shown
            out = tmp_path / "cli-export"
            ok(cli("review", "export", ids[2], "--out", str(out), "--config", reviewer))
            package = api.get(f"/events/{ids[2]}/package.zip", headers=auth)
            assert package.status_code == 200
        with zipfile.ZipFile(io.BytesIO(package.content)) as z:
            z.extractall(tmp_path / "api")
        from_api = files_of(tmp_path / "api" / f"evidence-{ids[2]}")
        from_cli = files_of(out)
        assert set(from_api) == set(from_cli)
        # the evidence is the same bytes; only the export time and the audit trail (which
        # now holds one export more) differ between two exports
        for name in from_cli:
            if name.startswith("events/"):
                assert from_api[name] == from_cli[name], name
        ok(cli("evidence", "verify", str(tmp_path / "api" / f"evidence-{ids[2]}")))
        # the API's package carries the event's audit trail: both exports, same entries
        trail = json.loads(from_api["audit.json"])
        exports = [(a["actor"], a["detail"]) for a in trail if a["action"] == "review.export"]
        assert exports == [("person:reviewer", {"event_ids": [ids[2]]})] * 2
