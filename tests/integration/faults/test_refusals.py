"""The store refusing a gateway or its events, with real processes: the gateway says
why, exits non-zero, and keeps every refused event on disk."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from edge.evidence.signing import generate_signing_key, save_private_key
from edge.pki import cert_serial_hex

TOLL = "plates/toll_hyperlpr"


def _setup(d: Any, eval_dir: Path) -> Path:
    d.start_store()
    d.cli(
        "watchlist", "add-plate", "--config", str(d.root / "admin.yaml"), "--label", "v", "川QEZ982"
    )
    cfg = d.gateway_config(uplink={"backoff_initial_s": 0.2, "backoff_max_s": 1.0})
    d.cli("gateway", "run", "--config", str(cfg), "--once", "--deadline", "60")  # sync only
    shutil.copyfile(eval_dir / TOLL / "toll_001.jpg", d.drop_folder() / "a.jpg")
    return cfg


def test_events_signed_with_an_unregistered_key_are_quarantined(
    deployment: Any, eval_dir: Path
) -> None:
    d = deployment
    cfg = _setup(d, eval_dir)
    key_path = d.root / "gw-1.signing.key"
    key_path.unlink()
    save_private_key(generate_signing_key(), key_path)  # not the key the store knows
    proc = d.cli("gateway", "run", "--config", str(cfg), "--once", "--deadline", "120", check=False)
    assert proc.returncode == 2, proc.stderr[-1500:]
    assert "rejected" in proc.stderr and "signature" in proc.stderr.lower(), proc.stderr[-800:]
    assert "Traceback" not in proc.stderr
    with sqlite3.connect(d.root / "gw-1" / "outbox.sqlite") as db:
        kept = db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        queued = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert (kept, queued) == (1, 0), "a rejected event must be kept on disk, not resent"
    assert d.events() == []


def test_revoked_gateway_certificate_is_refused_with_a_reason(
    deployment: Any, eval_dir: Path
) -> None:
    d = deployment
    cfg = _setup(d, eval_dir)
    serial = cert_serial_hex((d.root / "gw-1.pem").read_bytes())
    with (d.root / "revoked.txt").open("a") as f:
        f.write(serial + "\n")
    time.sleep(2.5)  # the running store re-reads the list when the file changes
    proc = d.cli("gateway", "run", "--config", str(cfg), "--once", "--deadline", "60", check=False)
    assert proc.returncode == 2, proc.stderr[-1500:]
    assert "refused" in proc.stderr and "revoked" in proc.stderr.lower(), proc.stderr[-800:]
    assert "Traceback" not in proc.stderr
    with sqlite3.connect(d.root / "gw-1" / "outbox.sqlite") as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1  # kept for later
