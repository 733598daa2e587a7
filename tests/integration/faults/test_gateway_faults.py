"""Gateway faults with real processes: the store down for the whole run, and the
gateway SIGKILLed mid-run. Evidence is never lost nor duplicated; the chain holds."""

from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

N_PLATES = 8


def _plates(eval_dir: Path, n: int) -> list[tuple[Path, str]]:
    rows = [
        r
        for r in csv.DictReader((eval_dir / "plates_manifest.csv").open(encoding="utf-8"))
        if r["subset"] == "toll_station_hyperlpr" and r["label_quality"] == "verified_visual"
    ]
    return [(eval_dir / r["file"], r["plate_text"]) for r in rows[:n]]


def _enrol_and_sync(d: Any, plates: list[tuple[Path, str]]) -> Path:
    for _, text in plates:
        d.cli(
            "watchlist",
            "add-plate",
            "--config",
            str(d.root / "admin.yaml"),
            "--label",
            "vendor",
            text,
        )
    log = d.root / "gw-1" / "gateway.log"
    # short backoff so the test does not sit out a 30 s retry after the store returns
    cfg = d.gateway_config(
        logging={"path": str(log), "level": "INFO"},
        uplink={"backoff_initial_s": 0.2, "backoff_max_s": 1.0},
    )
    # an empty drop folder: the run only syncs the watchlist into the gateway's file
    d.cli("gateway", "run", "--config", str(cfg), "--once", "--deadline", "120")
    return cfg


def _drop(d: Any, plates: list[tuple[Path, str]]) -> None:
    for i, (p, _) in enumerate(plates):
        shutil.copyfile(p, d.drop_folder() / f"{i:03d}.jpg")


def _stored(d: Any, log: Path) -> int:
    return log.read_text(encoding="utf-8", errors="replace").count("match event stored")


def _check_exactly_once(events: list[dict[str, Any]], plates: list[tuple[Path, str]]) -> None:
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    reads = [e["plate"] for e in events]
    assert len(reads) == len(set(reads)), f"a vehicle was reported twice: {sorted(reads)}"
    assert set(reads) <= {t for _, t in plates}
    assert len(events) >= len(plates) - 1, f"matches lost: {len(events)} of {len(plates)}"
    seqs = sorted(int(e["sequence"]) for e in events)
    assert seqs == list(range(1, len(seqs) + 1)), f"chain not continuous: {seqs}"
    assert {e["integrity"] for e in events} == {"ok"}


def test_store_down_for_the_whole_run_then_started(deployment: Any, eval_dir: Path) -> None:
    d = deployment
    plates = _plates(eval_dir, N_PLATES)
    d.start_store()
    cfg = _enrol_and_sync(d, plates)
    d.stop_store()
    _drop(d, plates)
    log = d.root / "gw-1" / "gateway.log"
    before = _stored(d, log)
    gw = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge",
            "gateway",
            "run",
            "--config",
            str(cfg),
            "--once",
            "--deadline",
            "300",
        ],
        env=d.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while _stored(d, log) - before < len(plates) - 1:
            assert gw.poll() is None, gw.stderr.read().decode() if gw.stderr else ""
            assert time.monotonic() < deadline, "the gateway did not analyse the pictures"
            time.sleep(0.5)
        time.sleep(2)
        assert gw.poll() is None, "with the store down, --once must wait, not exit"
        d.start_store()
        _out, err = gw.communicate(timeout=180)
    finally:
        if gw.poll() is None:
            gw.kill()
    assert gw.returncode == 0, err.decode()[-2000:]
    _check_exactly_once(d.events(), plates)


def test_gateway_sigkill_mid_run_then_restart(deployment: Any, eval_dir: Path) -> None:
    d = deployment
    plates = _plates(eval_dir, N_PLATES)
    d.start_store()
    cfg = _enrol_and_sync(d, plates)
    _drop(d, plates)
    log = d.root / "gw-1" / "gateway.log"
    before = _stored(d, log)
    gw = subprocess.Popen(
        [sys.executable, "-m", "edge", "gateway", "run", "--config", str(cfg)],
        env=d.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while _stored(d, log) - before < 3:
            assert gw.poll() is None, "gateway died on its own"
            assert time.monotonic() < deadline, "no events within 120 s"
            time.sleep(0.05)
    finally:
        gw.send_signal(signal.SIGKILL)
        gw.wait(timeout=30)
    d.cli("gateway", "run", "--config", str(cfg), "--once", "--deadline", "300")
    _check_exactly_once(d.events(), plates)
