"""One density run: a real store (TLS, in this process), the watchlist enrolled through
its admin API, ONE gateway process of a given code tree on N RTSP cameras of a real
GStreamer RTSP server in live mode, then what was delivered, attributed per camera
and pass. Used by bench/density.py and tests/integration/rtsp."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from edge.api.types import EventQuery, EventRow
from edge.config import load_model
from edge.deployment import free_ports, init_deployment
from edge.review.client import StoreClient
from edge.review.config import ClientConfig
from edge.review.watchlist_client import StoreWatchlistAdmin
from edge.store.config import StoreConfig
from edge.store.server import StoreServer
from tests.support.rtsp import RtspServer
from tests.support.scenes import CameraStream, SceneSpec

#: an event counts for a pass when captured this long before its start / after its end
SLACK_BEFORE_S, SLACK_AFTER_S = 1.0, 4.0
AGE_METRIC = "edgewatch_camera_frame_age_seconds"
DROP_METRIC = "edgewatch_camera_frames_dropped_total"


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    tree: Path  # PYTHONPATH of the gateway process
    sub: bool = False  # analyse each camera's 640x360 sub-stream (detect_source)


@dataclass
class RunResult:
    variant: str
    cameras: int
    shown: int = 0
    delivered: int = 0
    per_camera: dict[str, str] = field(default_factory=dict)  # cam -> "delivered/shown"
    missed: list[str] = field(default_factory=list)
    unlisted_delivered: int = 0
    unattributed_events: int = 0
    events: int = 0
    frame_age_p99_s: float | None = None
    frames_dropped: float | None = None
    cores: float = 0.0
    peak_rss_mb: float = 0.0
    connect_max_s: float | None = None
    unseen: int = 0  # listed passes that began before their camera was connected
    late: int = 0  # delivered, but first captured after the pass ended (+ slack)
    error: str = ""

    @property
    def recall(self) -> float:
        return self.delivered / self.shown if self.shown else 0.0


# ---------------------------------------------------------------- store side
class Watchlist:
    """Subject ids of what was enrolled: (kind, subject) -> id."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], str] = {}


def enrol(admin: ClientConfig, eval_dir: Path, specs: list[SceneSpec]) -> Watchlist:
    wl = Watchlist()
    with StoreClient(admin) as client:
        api = StoreWatchlistAdmin(client)
        for s in specs:
            added = api.add_face_photos(f"person {s.index}", [eval_dir / s.face_enrol], True)
            wl.ids[("face", s.identity)] = added.subject_id
            for i, car in enumerate(s.cars):
                if car.listed:
                    sid = api.add_plate_subject(f"vehicle {s.index}.{i}", [car.plate])
                    wl.ids[("plate", car.plate)] = sid
    return wl


def all_events(reviewer: ClientConfig) -> list[EventRow]:
    rows: list[EventRow] = []
    cursor: str | None = None
    with StoreClient(reviewer) as client:
        while True:
            page, cursor = client.search(EventQuery(gateway_id="gw-1", limit=200, cursor=cursor))
            rows += page
            if not cursor or not page:
                return rows


# ---------------------------------------------------------------- gateway side
def gateway_config(
    root: Path,
    variant: Variant,
    urls: dict[str, str],
    metrics_port: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """gateway-1.yaml with the cameras, a JSON log file, a short reconnect backoff (the
    live server starts after the gateway: cameras must find it within a second, not
    after a grown backoff) and, where the variant's config knows it, the Prometheus
    endpoint. Everything that shapes analysis stays at the shipped defaults, unless
    ``extra`` (top-level sections, e.g. ``{"vision": {...}}``) says otherwise: to measure
    what one setting costs."""
    data = yaml.safe_load((root / "gateway-1.yaml").read_text(encoding="utf-8"))
    data.update(extra or {})
    cams = [{"id": c, "source": url} for c, url in urls.items() if not c.endswith("-sub")]
    for cam in cams:
        if variant.sub:
            cam["detect_source"] = urls[cam["id"] + "-sub"]
    data["cameras"] = cams
    data["logging"] = {"level": "INFO", "path": str(root / "gateway.log")}
    data["sources"] = {"reconnect_initial_s": 0.5, "reconnect_max_s": 1.0}
    path = root / f"gateway-{variant.name}.yaml"
    for metrics in (True, False):
        if metrics:
            data["metrics"] = {"listen": f"127.0.0.1:{metrics_port}"}
        else:
            data.pop("metrics", None)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        check = subprocess.run(
            [sys.executable, "-m", "edge", "config", "check", str(path)],
            env=_env(variant),
            cwd=variant.tree,
            capture_output=True,
            text=True,
        )
        if check.returncode == 0:
            return path
    raise RuntimeError(f"{variant.name}: gateway config refused: {check.stderr.strip()}")


def _env(variant: Variant) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(variant.tree)}


def check_tree(variant: Variant) -> None:
    """The variant's processes must import its own ``edge`` (``-m`` puts the working
    directory first on sys.path, so they also run from the tree)."""
    found = subprocess.run(
        [sys.executable, "-c", "import edge; print(edge.__file__)"],
        env=_env(variant),
        cwd=variant.tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(variant.tree.resolve()):
        raise RuntimeError(f"{variant.name}: imports edge from {found}, not {variant.tree}")


def log_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    return out


def wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 180.0) -> None:
    """Until the gateway logged "gateway started" and holds the store's watchlist."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}; see {log}")
        msgs = {rec.get("msg") for rec in log_lines(log)}
        if "gateway started" in msgs and "watchlist updated" in msgs:
            return
        time.sleep(0.2)
    raise TimeoutError(f"gateway not started with the watchlist within {timeout_s} s; see {log}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, max_s: float = 120.0, idle_cores: float = 0.05) -> None:
    """Until the gateway has worked off what it had queued (a loaded gateway is still
    analysing and delivering after the stream ended): 2 s below ``idle_cores``."""
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(2.0)
        if cpu_seconds(pid) - before < 2.0 * idle_cores:
            time.sleep(2.0)  # the uplink's last acknowledgements
            return


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scrape(port: int, keep: Path | None = None) -> dict[str, Any]:
    """Frame age p99 over all cameras and frames dropped, from the gateway's /metrics
    (empty when the variant has no endpoint); ``keep``: where to save the whole page
    (per-camera and per-stage figures, for looking into a run afterwards)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
    except httpx.HTTPError:
        return {}
    if keep is not None:
        keep.write_text(text, encoding="utf-8")
    buckets: dict[float, float] = {}
    dropped = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == AGE_METRIC + "_bucket":
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + s.value
            elif s.name == DROP_METRIC:
                dropped += s.value
    return {"p99": quantile(buckets, 0.99), "dropped": dropped}


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """Quantile of a cumulative Prometheus histogram, linear within a bucket."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] == 0:
        return None
    rank = q * buckets[bounds[-1]]
    lo_b, lo_c = 0.0, 0.0
    for b in bounds:
        c = buckets[b]
        if c >= rank:
            if b == float("inf"):
                return lo_b
            return lo_b + (b - lo_b) * ((rank - lo_c) / (c - lo_c) if c > lo_c else 1.0)
        lo_b, lo_c = b, c
    return lo_b


def connect_delays(log: Path, playing_at: float) -> dict[str, float]:
    """Per camera, seconds from the first frame served to its first connection."""
    first: dict[str, float] = {}
    for r in log_lines(log):
        if r.get("msg") == "camera connected" and "ts" in r:
            at = datetime.fromisoformat(r["ts"]).timestamp()
            first.setdefault(str(r.get("camera_id")), round(at - playing_at, 2))
    return first


# ---------------------------------------------------------------- attribution
def attribute(
    result: RunResult,
    streams: list[CameraStream],
    wl: Watchlist,
    events: list[EventRow],
    playing_at: float,
    connected: dict[str, float],
) -> None:
    """Each listed pass is delivered when an event of its camera names its subject,
    captured after the pass began (each subject passes a camera once: the subject and
    camera identify the pass). Delivered passes whose first event was captured after
    the pass ended (plus slack) count in ``late``: the gateway's clock fell behind the
    stream, so the evidence carries a wrong time. An unlisted plate must never appear.
    A pass that began before its camera connected still counts as shown (and missed
    if not delivered), and is also counted in ``unseen``."""
    result.connect_max_s = max(connected.values()) if connected else None
    used: set[str] = set()
    unlisted = {p.subject for s in streams for p in s.passes if not p.listed}
    result.events = len(events)
    for cam in streams:
        got = 0
        shown = [p for p in cam.passes if p.listed]
        for p in shown:
            if connected.get(cam.camera_id, float("inf")) > p.start_s:
                result.unseen += 1
            sid = wl.ids[(p.kind, p.subject)]
            lo = (playing_at + p.start_s - SLACK_BEFORE_S) * 1e6
            hi = (playing_at + p.end_s + SLACK_AFTER_S) * 1e6
            hits = [
                e
                for e in events
                if e.camera_id == cam.camera_id and sid in e.subject_ids and lo <= e.captured_at_us
            ]
            used.update(e.event_id for e in hits)
            if hits:
                got += 1
                result.late += min(e.captured_at_us for e in hits) > hi
            else:
                result.missed.append(f"{cam.camera_id}:{p.kind}@{p.start_s:.1f}s")
        result.per_camera[cam.camera_id] = f"{got}/{len(shown)}"
        result.shown += len(shown)
        result.delivered += got
    result.unlisted_delivered = sum(1 for e in events if unlisted & set(e.plate_texts))
    result.unattributed_events = sum(1 for e in events if e.event_id not in used)


# ---------------------------------------------------------------- one run
@dataclass(frozen=True, slots=True)
class RunSetup:
    workdir: Path
    eval_dir: Path
    models_dir: Path
    specs: list[SceneSpec]
    streams: list[CameraStream]
    settle_s: float = 5.0
    #: gateway settings merged into every variant's config (bench --extra)
    extra: dict[str, Any] = field(default_factory=dict)


def run_once(setup: RunSetup, variant: Variant) -> RunResult:
    """Store + enrol + gateway + live RTSP playback once; measured and attributed."""
    n = len(setup.streams)
    root = setup.workdir / f"{variant.name}-{n:02d}"
    result = RunResult(variant.name, n)
    check_tree(variant)
    init_deployment(root, gateways=1)
    store = StoreServer(load_model(StoreConfig, root / "store.yaml"), models_dir=setup.models_dir)
    store.start()
    try:
        wl = enrol(load_model(ClientConfig, root / "admin.yaml"), setup.eval_dir, setup.specs)
        mounts = {s.camera_id: s.path for s in setup.streams}
        if variant.sub:
            mounts |= {f"{s.camera_id}-sub": _sub(s) for s in setup.streams}
        # the server reads every clip into memory before it listens (slow at N=24)
        server = RtspServer(mounts, live=True, ready_timeout_s=300.0)
        playing_at = _gateway_pass(setup, variant, root, server, result)
        events = all_events(load_model(ClientConfig, root / "reviewer.yaml"))
        connected = connect_delays(root / "gateway.log", playing_at)
        attribute(result, setup.streams, wl, events, playing_at, connected)
        record = {"playing_at": playing_at, "connected_s": connected, "result": asdict(result)}
        (root / "run.json").write_text(json.dumps(record, ensure_ascii=False, indent=1))
    except Exception as e:  # one failed run must not lose the others' numbers
        result.error = f"{type(e).__name__}: {e}"[:300]
    finally:
        store.stop()
    return result


def _sub(stream: CameraStream) -> Path:
    if stream.sub_path is None:
        raise ValueError(f"{stream.camera_id}: no sub-stream rendered (camera_streams(sub=True))")
    return stream.sub_path


def _gateway_pass(
    setup: RunSetup, variant: Variant, root: Path, server: RtspServer, result: RunResult
) -> float:
    metrics_port = free_ports(1)[0]
    urls = {c: server.url(c) for c in server.mounts}
    cfg = gateway_config(root, variant, urls, metrics_port, setup.extra)
    log = root / "gateway.log"
    with (root / "gateway.stderr").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "gateway", "run", "--config", str(cfg)],
            env={**_env(variant), "EDGE_MODELS_DIR": str(setup.models_dir)},
            cwd=variant.tree,
            stdout=err,
            stderr=err,
        )
    try:
        wait_ready(proc, log)
        server.start()
        playing_at = server.playing_at
        # load is measured while subjects pass, not while cameras connect
        first = min(p.start_s for s in setup.streams for p in s.passes)
        time.sleep(max(0.0, playing_at + first - time.time()))
        cpu0, t0 = cpu_seconds(proc.pid), time.time()
        duration = max(s.duration_s for s in setup.streams)
        time.sleep(max(0.0, playing_at + duration + 0.5 - time.time()))
        cpu1, t1 = cpu_seconds(proc.pid), time.time()
        server.stop()  # every scene played once: no second pass
        time.sleep(setup.settle_s)
        wait_idle(proc.pid)
        scraped = scrape(metrics_port, root / "metrics.txt")
        result.frame_age_p99_s = scraped.get("p99")
        result.frames_dropped = scraped.get("dropped")
        result.cores = round((cpu1 - cpu0) / (t1 - t0), 2)
        result.peak_rss_mb = round(peak_rss_mb(proc.pid))
        return playing_at
    finally:
        server.stop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
