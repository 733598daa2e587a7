"""`edgewatch gateway run --once` as an operator meets it, real processes: a wrong CA is
named, gRPC's own log lines never reach stderr, and a store that never answered is an
error, not "0 match events delivered"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from edge.pki import create_ca


def _gateway(d: Any, **updates: object) -> Path:
    """gw-1's config with recognition off (no models to load) over an empty folder."""
    return d.gateway_config(
        vision={"faces": {"enabled": False}, "plates": {"enabled": False}},
        uplink={"backoff_initial_s": 0.1, "backoff_max_s": 0.5},
        **updates,
    )


def _run_once(d: Any, cfg: Path, deadline: float) -> subprocess.CompletedProcess[str]:
    # as an operator starts it: no gRPC variables of their own
    env = {k: v for k, v in d.env.items() if not k.startswith("GRPC_")}
    return subprocess.run(
        [sys.executable, "-m", "edge", "gateway", "run", "--config", str(cfg), "--once",
         "--deadline", str(deadline)],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip


def _not_json(stderr: str) -> list[str]:
    out = []
    for line in stderr.splitlines():
        try:
            json.loads(line)
        except ValueError:
            out.append(line)
    return out


def test_wrong_ca_is_named_and_stderr_holds_only_json_and_the_error(deployment: Any) -> None:
    d = deployment
    d.start_store()
    other = d.root / "other-ca.pem"
    create_ca("a CA of another deployment").save(other, d.root / "other-ca.key")
    tls = {"ca": str(other), "cert": str(d.root / "gw-1.pem"), "key": str(d.root / "gw-1.key")}
    proc = _run_once(d, _gateway(d, tls=tls), deadline=60)
    store = yaml.safe_load((d.root / "gateway-1.yaml").read_text())["store"]
    expected = (
        f"this gateway refused the store at {store}: the store's certificate is not signed "
        f"by the CA in tls.ca ({other})"
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert _not_json(proc.stderr) == [f"edgewatch: error: {expected}"]
    logged = [json.loads(ln) for ln in proc.stderr.splitlines() if not ln.startswith("edgewatch")]
    assert any(r["msg"] == f"no connection to the store: {expected}" for r in logged), logged
    assert "ssl_transport_security" not in proc.stderr and "Handshake" not in proc.stderr
    assert proc.stdout == ""


def test_once_fails_when_the_store_never_answered(deployment: Any) -> None:
    d = deployment  # no store started: nothing listens at its address
    proc = _run_once(d, _gateway(d), deadline=3)
    assert proc.returncode == 4, proc.stderr[-2000:]
    (error,) = _not_json(proc.stderr)
    assert error.startswith("edgewatch: error: never reached the store: the store at ")
    assert error.endswith("is not reachable (connection refused); nothing was delivered")
    assert "match events delivered" not in proc.stdout


def test_an_operators_own_grpc_settings_are_kept() -> None:
    from edge.cli import quiet_grpc_native_logs

    env: dict[str, str] = {}
    quiet_grpc_native_logs(env)
    assert env == {"GRPC_VERBOSITY": "NONE"}
    for mine in ({"GRPC_VERBOSITY": "DEBUG"}, {"GRPC_TRACE": "handshaker"}):
        env = dict(mine)
        quiet_grpc_native_logs(env)
        assert env == mine
    assert os.environ.get("GRPC_VERBOSITY") != "NONE" or "GRPC_TRACE" not in os.environ
