"""Load generation for bench/ingest.py: gateways, the store process and the baselines.

Three things receive the same pre-encoded DeliverRequest messages (several events
each, as the gateway's uplink batches them) over mTLS streams:

- the store: a real `edgewatch store serve` process made by `edgewatch init`;
- the **echo** baseline: a gRPC server process with the store's TLS setup whose Deliver
  parses each request and answers it with fixed acks, storing nothing (what the Python
  gRPC transport and protobuf parsing alone cost on this machine: the ceiling any
  Python ingest can reach);
- the **raw** baseline: one 50 KB row per durable transaction on the same database.

The messages are encoded before the clock starts and sent as bytes: a real gateway
encodes on its own CPU, and here the load generator shares the store's two cores.

    python bench/ingest_load.py echo-server STORE_YAML   # used by bench/ingest.py
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import checkout  # noqa: F401 - puts the checkout root on sys.path for tests.support
import grpc
import psycopg
import yaml

from edge.config import load_model
from edge.evidence.model import event_hash
from edge.store.config import StoreConfig
from edge.wire.v1 import ingest_pb2
from tests.support.loadgen import Deployment, batched, client_credentials, signed_chain
from tests.support.samples import sample_event

#: per gateway number: (next sequence, hash of the last event) so runs continue the chain
Heads = dict[int, tuple[int, str]]
EVIDENCE_BYTES = 50_000
#: a server child process and the address it listens on
Server = tuple[subprocess.Popen[str], str]


@contextlib.contextmanager
def _serving(cmd: list[str], code: Path | None = None) -> Iterator[Server]:
    """Start a server process that prints '... serving ... port N' first."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **code_env(code)
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving" not in line:
            raise RuntimeError(f"server did not start: {cmd[2:]} said {line!r}")
        port = line.rsplit("port", 1)[1].strip(" )\n")
        yield proc, f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(60)


def code_env(code: Path | None) -> dict[str, Any]:
    """Popen arguments that run the ``edge`` package of checkout ``code`` (None: this
    one). The working directory matters too: ``python -m`` puts it first on sys.path."""
    if code is None:
        return {}
    return {"env": {**os.environ, "PYTHONPATH": str(code)}, "cwd": str(code)}


def store_process(
    dep: Deployment, code: Path | None = None
) -> contextlib.AbstractContextManager[Server]:
    """`edgewatch store serve` of ``dep``, running the code of checkout ``code``."""
    store_yaml = str(dep.path("store.yaml"))
    cmd = [sys.executable, "-m", "edge", "store", "serve", "--config", store_yaml]
    return _serving(cmd, code)


def init_with(code: Path, root: Path, gateways: int, url: str | None) -> Deployment:
    """`edgewatch init` by the code of checkout ``code`` (its config format)."""
    cmd = [sys.executable, "-m", "edge", "init", str(root), "--gateways", str(gateways)]
    subprocess.run(
        cmd + (["--database-url", url] if url else []),
        check=True,
        capture_output=True,
        **code_env(code),
    )
    with (root / "store.yaml").open() as f:
        listen = str(yaml.safe_load(f)["listen"])
    return Deployment(root, listen)


def echo_process(dep: Deployment) -> contextlib.AbstractContextManager[Server]:
    here = str(Path(__file__).resolve())
    return _serving([sys.executable, here, "echo-server", str(dep.path("store.yaml"))])


def echo_server(store_yaml: Path) -> int:
    """Serve Ingest/Deliver with the store's mTLS setup: parse each request and answer
    it with one fixed ack per event, storing nothing."""
    cfg = load_model(StoreConfig, store_yaml)
    ack = ingest_pb2.DeliverAck(event_id="0" * 36, status=ingest_pb2.ACK_STATUS_STORED, sequence=1)
    replies: dict[int, bytes] = {}

    def deliver(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        for raw in requests:
            n = len(ingest_pb2.DeliverRequest.FromString(raw).events)
            if n not in replies:
                replies[n] = ingest_pb2.DeliverReply(acks=[ack] * n).SerializeToString()
            yield replies[n]

    handler = grpc.method_handlers_generic_handler(
        "edge.v1.Ingest", {"Deliver": grpc.stream_stream_rpc_method_handler(deliver)}
    )
    limit = cfg.limits.max_message_bytes
    server = grpc.server(
        ThreadPoolExecutor(max_workers=32),
        options=[("grpc.max_receive_message_length", limit)],
    )
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials(
        [(cfg.tls.key.read_bytes(), cfg.tls.cert.read_bytes())],
        root_certificates=cfg.tls.ca.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    print(f"echo serving (port {port})", flush=True)
    server.wait_for_termination()
    return 0


def encoded_chain(dep: Deployment, g: int, n: int, heads: Heads, batch: int) -> list[bytes]:
    """``n`` more signed events of gateway ``g`` (50 KB of JPEG each: scene + 2 crops),
    encoded as Deliver requests of ``batch`` events."""
    seq, prev = heads[g]
    crops = sum(len(b) for name, b in sample_event(1, prev)[1].items() if name != "scene.jpg")
    scene = EVIDENCE_BYTES - crops
    chain = signed_chain(
        dep.signing_key(g), f"gw-{g}", n, start=seq, prev_hash=prev, scene_bytes=scene
    )
    heads[g] = (seq + n, event_hash(chain[-1].event))
    return [r.SerializeToString() for r in batched(chain, batch)]


def _deliver(dep: Deployment, address: str, g: int, requests: Sequence[bytes]) -> int:
    """Send pre-encoded requests on one mTLS stream as gateway ``g``; count STORED acks."""
    creds = client_credentials(dep.path("ca.pem"), dep.path(f"gw-{g}.pem"), dep.path(f"gw-{g}.key"))
    options = [("grpc.max_send_message_length", 256 << 20)]
    with grpc.secure_channel(address, creds, options=options) as channel:
        deliver = channel.stream_stream(
            "/edge.v1.Ingest/Deliver",
            request_serializer=None,
            response_deserializer=ingest_pb2.DeliverReply.FromString,
        )
        replies = deliver(iter(requests), timeout=600)
        return sum(a.status == ingest_pb2.ACK_STATUS_STORED for r in replies for a in r.acks)


def delivery_rate(
    dep: Deployment, address: str, streams: Mapping[int, Sequence[bytes]], events: int
) -> float:
    """Acked (STORED) events per second over one concurrent stream per gateway."""
    stored = dict.fromkeys(streams, 0)

    def run(g: int) -> None:
        stored[g] = _deliver(dep, address, g, streams[g])

    threads = [threading.Thread(target=run, args=(g,)) for g in streams]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if sum(stored.values()) != events:
        raise RuntimeError(f"only {sum(stored.values())} of {events} events stored")
    return events / elapsed


def process_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, bytes written to storage) of process ``pid`` so far (Linux /proc):
    less moved by other jobs on a shared machine than events per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return cpu, int(io["write_bytes"])


def raw_rate_sqlite(path: Path, n: int) -> float:
    """One 50 KB row per durable commit (WAL, synchronous=FULL), same disk."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS raw (id TEXT PRIMARY KEY, data BLOB)")
    payload = os.urandom(EVIDENCE_BYTES)
    t0 = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO raw VALUES (?, ?)", (secrets.token_hex(16), payload))
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - t0)
    conn.close()
    return rate


def raw_rate_pg(url: str, n: int) -> float:
    payload = os.urandom(EVIDENCE_BYTES)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw (id TEXT PRIMARY KEY, data BYTEA)")
        conn.commit()
        t0 = time.perf_counter()
        for _ in range(n):
            conn.execute("INSERT INTO raw VALUES (%s, %s)", (secrets.token_hex(16), payload))
            conn.commit()
        return n / (time.perf_counter() - t0)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "echo-server":
        sys.exit("usage: ingest_load.py echo-server STORE_YAML")
    sys.exit(echo_server(Path(sys.argv[2])))
