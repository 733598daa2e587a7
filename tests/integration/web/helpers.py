"""Shared by the HTTP-level web tests and the browser tests (loaded by file path).

- ``Client``: a hand-made HTTP client with its own cookie jar, for requests a browser
  would never send (missing CSRF, wrong role, foreign Origin).
- ``Receiver``: the bureau's case system stand-in, a real http.server on 127.0.0.1 that
  checks each webhook's HMAC itself (independently of edge/store/dispatch.py).
- ``open_stack``: a real store (SQLite or PostgreSQL) with sample evidence ingested,
  three users and the web page serving.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import importlib.util
import json
import re
import secrets
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode, urlsplit

from edge.pki import create_ca, issue_server_cert
from edge.store.config import DispatchConfig, WebConfig, WebTls
from edge.store.postgres_repo import PostgresDatabase
from edge.store.sqlite_repo import SqliteDatabase


def _load_sample_store() -> ModuleType:
    name = "edgewatch_web_sample_store"
    if name not in sys.modules:
        path = Path(__file__).with_name("sample_store.py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


sample = _load_sample_store()
LocalStack = sample.LocalStack
Seeded = sample.Seeded
seed_sample_evidence = sample.seed_sample_evidence
PLAN = sample.PLAN
SUBJECTS = sample.SUBJECTS
CAMERAS = sample.CAMERAS
BASE_US = sample.BASE_US
HOUR_US = sample.HOUR_US

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass
class Resp:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []


class Client:
    def __init__(self, base_url: str, tls: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.tls = tls if parts.scheme == "https" else None
        self.jar: dict[str, str] = {}
        self.csrf = ""

    def _connection(self) -> http.client.HTTPConnection:
        if self.tls is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=60, context=self.tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Resp:
        conn = self._connection()
        hdrs = dict(headers or {})
        if self.jar:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            resp = Resp(r.status, r.headers, r.read())
        finally:
            conn.close()
        for c in resp.cookies():
            name, _, rest = c.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in c:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        m = _CSRF.search(resp.text) if resp.header("Content-Type").startswith("text/html") else None
        if m:
            self.csrf = m[1]
        return resp

    def get(self, path: str) -> Resp:
        return self.request("GET", path)

    def post(
        self,
        path: str,
        fields: dict[str, str] | None = None,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Resp:
        data = dict(fields or {})
        if csrf:
            data.setdefault("csrf", self.csrf)
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, urlencode(data).encode(), hdrs)

    def post_multipart(
        self, path: str, fields: dict[str, str], files: list[tuple[str, str, bytes]]
    ) -> Resp:
        boundary = uuid.uuid4().hex
        parts = []
        for k, v in {"csrf": self.csrf, **fields}.items():
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
            parts.append(head.encode() + v.encode() + b"\r\n")
        for name, filename, data in files:
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'
            )
            parts.append(head.encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        ctype = f"multipart/form-data; boundary={boundary}"
        return self.request("POST", path, body, {"Content-Type": ctype})

    def login(self, name: str, token: str) -> Resp:
        self.get("/login")
        return self.post("/login", {"name": name, "token": token, "next": "/search"})


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    signature_ok: bool
    at: float


@dataclass
class Receiver:
    """Answers 503 to the next ``fail_next`` posts, then 200; 401 on a bad signature."""

    key: bytes
    fail_next: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/cases"

    def check(self, header: str, body: bytes) -> bool:
        m = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
        if not m or abs(time.time() - int(m[1])) > 300:
            return False
        mac = hmac.new(self.key, m[1].encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac, m[2])

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = receiver.check(self.headers.get("X-EdgeWatch-Signature", ""), body)
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            body,
                            {k.lower(): v for k, v in self.headers.items()},
                            ok,
                            time.monotonic(),
                        )
                    )
                    status = 401 if not ok else 503 if receiver.fail_next > 0 else 200
                    if ok and receiver.fail_next > 0:
                        receiver.fail_next -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def bodies_for(self, event_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if json.loads(r.body)["event_id"] == event_id]


@dataclass
class Stack:
    local: LocalStack
    url: str
    tokens: dict[str, str]
    seeded: Seeded
    receiver: Receiver
    backend: str
    tls: ssl.SSLContext | None = None  # trusts the page's certificate when it serves HTTPS

    def client(self, user: str | None = None) -> Client:
        c = Client(self.url, self.tls)
        if user is not None:
            r = c.login(user, self.tokens[user])
            assert r.status == 303, r.text[:500]
            assert c.get("/analytics").status == 200  # picks up the session CSRF token
        return c


def make_tls(root: Path) -> tuple[WebTls, ssl.SSLContext]:
    """A certificate for the page on 127.0.0.1 and a client context that trusts it."""
    ca = create_ca("web test CA")
    issue_server_cert(ca).save(root / "web.crt", root / "web.key")
    client = ssl.create_default_context(cadata=ca.cert_pem.decode())
    return WebTls(cert=root / "web.crt", key=root / "web.key"), client


@contextmanager
def open_stack(
    root: Path,
    backend: str,
    pg_url: str | None = None,
    models_dir: Path | None = None,
    https: bool = False,
    **web: Any,
) -> Iterator[Stack]:
    # a text key, as `openssl rand -hex 32` writes it (raw random bytes could end in
    # a newline, which the loader strips)
    key = secrets.token_hex(32).encode()
    (root / "dispatch.key").write_bytes(key + b"\n")
    receiver = Receiver(key)
    receiver.start()
    dispatch = DispatchConfig(
        url=receiver.url,
        hmac_key_file=root / "dispatch.key",
        max_attempts=4,
        backoff_initial_s=0.1,
        backoff_max_s=0.4,
        timeout_s=5,
    )
    client_tls = None
    if https:
        web["tls"], client_tls = make_tls(root)
    # port 0: the page binds any free port; dispatch links follow the bound port
    config = WebConfig(port=0, dispatch=dispatch, **web)
    db = (
        SqliteDatabase(root / "store.db") if backend == "sqlite" else PostgresDatabase(pg_url or "")
    )
    local = LocalStack(db, config, models_dir=models_dir)
    local.start()
    try:
        tokens = {n: local.add_user(n, n) for n in ("admin", "reviewer", "viewer")}  # type: ignore[arg-type]
        seeded = seed_sample_evidence(local.repo, local.ingest(), local.clock)
        yield Stack(local, local.url, tokens, seeded, receiver, backend, client_tls)
    finally:
        local.stop()
        receiver.stop()
