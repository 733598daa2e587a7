"""Smart cameras push to a real gateway over GA/T 1400 (real HTTP, digest auth): the
gateway recognises the pictures with its own models and matches locally. A
watchlisted plate or face reaches the real store as evidence; what matches nothing,
including the camera's own plate reading, is on no disk, no wire and in no log."""

from __future__ import annotations

import csv
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.models, pytest.mark.eval, pytest.mark.timeout(600)]
DEVICE = "44030400001320000009"


def _camera_module() -> Any:
    name = "edgewatch_viid_camera"
    if name not in sys.modules:
        import importlib.util

        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("camera.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def samples(eval_dir: Path) -> tuple[list[tuple[Path, str]], tuple[Path, Path], Path]:
    rows = [
        r
        for r in csv.DictReader((eval_dir / "plates_manifest.csv").open(encoding="utf-8"))
        if r["subset"] == "toll_station_hyperlpr" and r["label_quality"] == "verified_visual"
    ][:4]
    plates = [(eval_dir / r["file"], r["plate_text"]) for r in rows]
    people: dict[str, list[Path]] = {}
    for r in csv.DictReader((eval_dir / "faces_manifest.csv").open(encoding="utf-8")):
        if r["role"] == "enroll_or_probe" and r["n_faces"] == "1":
            people.setdefault(r["identity"], []).append(eval_dir / r["file"])
    person = max(people.values(), key=len)
    return plates, (person[0], person[1]), eval_dir / "privacy" / "group_multiface.jpg"


def start_gateway(d: Any, path: Path, log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.with_suffix(".out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge", "gateway", "run", "--config", str(path)],
        stdout=out, stderr=out, env=d.env,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not (log.exists() and "viid endpoint listening" in log.read_text(errors="replace")):
        assert proc.poll() is None, log.with_suffix(".out").read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "gateway did not start"
        time.sleep(0.3)
    return proc


def test_pushed_captures_are_matched_locally_and_non_matches_leave_no_trace(
    deployment: Any, eval_dir: Path
) -> None:
    d = deployment
    plates, (enrol, probe), bystanders = samples(eval_dir)
    listed, unlisted = plates[:2], plates[2:]
    d.start_store()
    admin = str(d.root / "admin.yaml")
    for _, text in listed:
        d.cli("watchlist", "add-plate", "--config", admin, "--label", "vendor", text)
    d.cli("watchlist", "add-face", "--config", admin, "--label", "vendor face", str(enrol))
    pw = d.root / "cam.password"
    pw.write_text("camera-secret-7\n")
    pw.chmod(0o600)
    port = free_port()
    log = d.root / "gw-1" / "logs" / "gateway.log"
    path = d.gateway_config(
        1,
        viid={"listen": f"127.0.0.1:{port}",
              "devices": [{"device_id": DEVICE, "username": "cam9", "password_file": str(pw)}]},
        cameras=[{"id": "cam-viid", "source": f"viid:{DEVICE}"}],
        logging={"path": str(log), "level": "DEBUG"},
    )  # fmt: skip
    gw = start_gateway(d, path, log)
    cams = _camera_module()
    cam = cams.Camera(f"http://127.0.0.1:{port}", DEVICE, "cam9", "camera-secret-7")
    try:
        assert cam.system("Register")["ResponseStatusObject"]["StatusCode"] == 0
        assert cam.system("Keepalive")["ResponseStatusObject"]["StatusCode"] == 0
        # the camera sends its own plate readings along; the gateway never uses them
        vehicles = [cam.motor_vehicle(p, camera_plate=t) for p, t in plates]
        assert cam.push("MotorVehicle", vehicles) == [0, 0, 0, 0]
        assert cam.push("Face", [cam.face(probe), cam.face(bystanders)]) == [0, 0]
        # wrong credentials and a foreign User-Identify are refused
        bad = httpx.post(f"http://127.0.0.1:{port}/VIID/Faces", json={},
                         auth=httpx.DigestAuth("cam9", "wrong"), trust_env=False)  # fmt: skip
        assert bad.status_code == 401
        other = cam.http.post("/VIID/Faces", json={}, headers={"User-Identify": "1" * 20})
        assert other.status_code == 403
        deadline = time.monotonic() + 120
        while len(events := d.events()) < 3 and time.monotonic() < deadline:
            time.sleep(1.0)
    finally:
        cam.close()
        gw.send_signal(signal.SIGTERM)
        gw.wait(timeout=60)
    # on the wire: exactly the matches, from the pushing camera
    assert sorted(e["kind"] for e in events) == ["face", "plate", "plate"], events
    assert {e["camera_id"] for e in events} == {"cam-viid"}
    got = {t for e in events for t in e["plates"]}
    assert got == {t for _, t in listed}
    # on disk and in logs: no unlisted plate (not even the camera's own reading), and no
    # byte run of any non-matching picture
    files = {p: p.read_bytes() for p in d.root.rglob("*") if p.is_file() and p.suffix != ".pem"}
    for _, text in unlisted:
        hits = [p.name for p, data in files.items() if text.encode("utf-8") in data]
        assert not hits, f"unlisted plate {text[:2]}*** in {hits}"
    for picture in [p for p, _ in unlisted] + [bystanders]:
        raw = picture.read_bytes()
        needle = raw[len(raw) // 2 : len(raw) // 2 + 64]
        hits = [p.name for p, data in files.items() if needle in data]
        assert not hits, f"bytes of {picture.name} in {hits}"
    text = log.read_text(encoding="utf-8")
    for _, plate in plates:
        assert plate not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert any(x.get("msg") == "viid camera" for x in lines)
    assert not any("password" in line for line in text.splitlines() if "camera-secret" in line)
    assert "camera-secret-7" not in text


def test_gateway_config_checks_viid_cameras(deployment: Any) -> None:
    d = deployment
    path = d.gateway_config(1, cameras=[{"id": "c", "source": f"viid:{DEVICE}"}])
    bad = d.cli("config", "check", str(path), check=False)
    assert bad.returncode != 0 and "viid: section" in bad.stderr
    path = d.gateway_config(
        1, viid={"devices": [{"device_id": "1" * 20, "username": "u", "password_file": "/x"}]}
    )
    bad = d.cli("config", "check", str(path), check=False)
    assert bad.returncode != 0 and "not in viid.devices" in bad.stderr
    path = d.gateway_config(1, cameras=[{"id": "c", "source": "viid:123"}])
    bad = d.cli("config", "check", str(path), check=False)
    assert bad.returncode != 0 and "20 digits" in bad.stderr
