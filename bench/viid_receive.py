"""GA/T 1400 receive: how many pushed captures per second one gateway takes.

What runs, per round, on a real deployment (`edgewatch init`, an in-process store with
two plates enrolled): a real ``Gateway`` (models, outbox, uplink, watchlist sync) with
``--cameras`` cameras. VIID side: each camera is a ``viid:`` source; one thread per
camera pushes its share of the pictures over real HTTP with digest authentication
(``httpx.DigestAuth``), one capture (a MotorVehicle with its scene) per request, each
answered once analysed. The clock runs from the first push until the last answer.

Baseline, interleaved in the same run: the same pictures through the same gateway as
drop-folder cameras (``folder:``, polled every 20 ms, the way the gateway already
analyses stills); the clock runs from the start of the sources until every picture is
analysed. Ratio = VIID captures/s / folder pictures/s (1.0: receiving over GA/T 1400
costs nothing next to the analysis).

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        .venv/bin/python bench/viid_receive.py --pictures 24 --rounds 3

The last stdout line is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import checkout  # noqa: F401 - puts the checkout root on sys.path for tests.support
import httpx

from edge.config import load_model
from edge.deployment import init_deployment
from edge.gateway.app import Gateway
from edge.gateway.config import CameraConfig, GatewayConfig
from edge.gateway.viid_config import ViidReceiverConfig
from edge.review.client import StoreClient
from edge.review.config import ClientConfig
from edge.review.watchlist_client import StoreWatchlistAdmin
from tests.support.loadgen import Deployment, serving

PASSWORD = "bench-camera-secret"


def pictures(eval_dir: Path, n: int) -> tuple[list[Path], list[str]]:
    rows = [
        r
        for r in csv.DictReader((eval_dir / "plates_manifest.csv").open(encoding="utf-8"))
        if r["subset"] == "toll_station_hyperlpr"
    ]
    return [eval_dir / r["file"] for r in rows[:n]], [r["plate_text"] for r in rows[:2]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def device(i: int) -> str:
    return f"440304000013200{i:05d}"


def gateway_config(root: Path, tag: str, cams: list[CameraConfig], viid: Any) -> GatewayConfig:
    cfg = load_model(GatewayConfig, root / "gateway-1.yaml")
    data = cfg.data_dir.parent / f"data-{tag}"
    sources = cfg.sources.model_copy(update={"folder_poll_s": 0.02, "folder_stable_polls": 1})
    receiver = None if viid is None else ViidReceiverConfig.model_validate(viid)
    return cfg.model_copy(
        update={"cameras": cams, "viid": receiver, "data_dir": data, "sources": sources}
    )


def folder_round(root: Path, models: Path, shares: list[list[Path]], tag: str) -> float:
    cams = []
    for i, share in enumerate(shares):
        drop = root / f"drop-{tag}-{i}"
        drop.mkdir()
        for j, p in enumerate(share):
            shutil.copyfile(p, drop / f"{j:04d}.jpg")
        cams.append(CameraConfig(id=f"cam-{i}", source=f"folder:{drop}"))
    gw = Gateway(gateway_config(root, tag, cams, None), models)
    gw.start(wait_for_sync_s=30.0, once=True)
    t0 = time.perf_counter()
    try:
        while not gw.sources_done():
            time.sleep(0.005)
        return time.perf_counter() - t0
    finally:
        gw.stop()


def _push(url: str, dev: str, share: list[Path], errors: list[str]) -> None:
    with httpx.Client(
        base_url=url, auth=httpx.DigestAuth(f"u{dev[-3:]}", PASSWORD), timeout=300.0,
        headers={"User-Identify": dev}, trust_env=False,
    ) as http:  # fmt: skip
        for j, p in enumerate(share):
            shot = time.strftime("%Y%m%d%H%M%S")
            src = f"{dev}02{shot}{j:05d}"
            image = {"ImageID": src, "Type": "01", "ShotTime": shot,
                     "Data": base64.b64encode(p.read_bytes()).decode()}  # fmt: skip
            obj = {"MotorVehicleID": f"{src}0200001", "DeviceID": dev, "PassTime": shot,
                   "SubImageList": {"SubImageInfoObject": [image]}}  # fmt: skip
            body = {"MotorVehicleListObject": {"MotorVehicleObject": [obj]}}
            r = http.post("/VIID/MotorVehicles", json=body)
            code = r.json()["ResponseStatusListObject"]["ResponseStatusObject"][0]["StatusCode"]
            if int(code) != 0:
                errors.append(f"{dev}: StatusCode {code}")


def viid_round(root: Path, models: Path, shares: list[list[Path]], tag: str) -> float:
    pw = root / "cam.password"
    pw.write_text(PASSWORD)
    devs = [device(i) for i in range(len(shares))]
    viid = {
        "listen": f"127.0.0.1:{free_port()}",
        "devices": [{"device_id": d, "username": f"u{d[-3:]}", "password_file": str(pw)}
                    for d in devs],
        "busy_timeout_s": 60.0,
        "analysis_timeout_s": 300.0,
    }  # fmt: skip
    cams = [CameraConfig(id=f"cam-{i}", source=f"viid:{d}") for i, d in enumerate(devs)]
    cfg = gateway_config(root, tag, cams, viid)
    gw = Gateway(cfg, models)
    gw.start(wait_for_sync_s=30.0)
    assert gw.viid is not None
    url = f"http://127.0.0.1:{gw.viid.port}"
    errors: list[str] = []
    threads = [
        threading.Thread(target=_push, args=(url, d, s, errors))
        for d, s in zip(devs, shares, strict=True)
    ]
    t0 = time.perf_counter()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        gw.stop()
    if errors:
        raise RuntimeError(f"pushes refused: {errors[:3]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pictures", type=int, default=24)
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    eval_dir = Path(os.environ["EDGE_EVAL_DIR"])
    models = Path(os.environ["EDGE_MODELS_DIR"])
    pics, listed = pictures(eval_dir, args.pictures)
    shares = [pics[i :: args.cameras] for i in range(args.cameras)]
    n = len(pics)
    with tempfile.TemporaryDirectory(prefix="bench-viid-") as tmp:
        root = Path(tmp) / "dep"
        address, _ = init_deployment(root, gateways=1)
        dep = Deployment(root, address)
        with serving(dep):
            with StoreClient(load_model(ClientConfig, root / "admin.yaml")) as client:
                StoreWatchlistAdmin(client).add_plate_subject("bench", listed)
            folder, viid = [], []
            for r in range(args.rounds):  # interleaved: folder, viid, folder, viid, ...
                folder.append(n / folder_round(root, models, shares, f"f{r}"))
                viid.append(n / viid_round(root, models, shares, f"v{r}"))
                print(f"round {r + 1}: folder {folder[-1]:.2f}/s  viid {viid[-1]:.2f}/s",
                      flush=True)  # fmt: skip
    result = {
        "pictures": n,
        "cameras": args.cameras,
        "rounds": args.rounds,
        "folder_per_s": {"median": round(statistics.median(folder), 2),
                         "min": round(min(folder), 2), "max": round(max(folder), 2)},
        "viid_per_s": {"median": round(statistics.median(viid), 2),
                       "min": round(min(viid), 2), "max": round(max(viid), 2)},
        "ratio_viid_to_folder": round(statistics.median(viid) / statistics.median(folder), 3),
        "load_average": os.getloadavg()[0],
    }  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
