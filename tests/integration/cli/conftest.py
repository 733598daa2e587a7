"""Fixtures for CLI tests: run the real CLI, serve a model pack over local HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@dataclass
class CliRun:
    code: int
    out: str
    err: str


def run_cli(*args: str, env_extra: dict[str, str] | None = None, cwd: Path | None = None) -> CliRun:
    """Run `python -m edge ...` in a fresh process, as a user would."""
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, "-m", "edge", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd or REPO,
        timeout=300,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def edge_cli() -> Callable[..., CliRun]:
    """`edge_cli("models", "verify")` runs the real CLI in a subprocess."""
    return run_cli


@dataclass
class PackServer:
    """A tiny HTTP server for a folder; supports `Range: bytes=N-`, records requests."""

    root: Path
    honour_range: bool = True
    #: send only this many body bytes of the next response, then hang up (once)
    drop_after: int | None = None
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(state: PackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            state.requests.append((self.path, rng))
            target = (state.root / self.path.lstrip("/")).resolve()
            if state.root.resolve() not in target.parents or not target.is_file():
                self.send_error(404, "not found")
                return
            data = target.read_bytes()
            start = 0
            if rng and state.honour_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_error(416, "range not satisfiable")
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state.drop_after is not None:
                body, state.drop_after = body[: state.drop_after], None
                self.close_connection = True
            self.wfile.write(body)

    return Handler


@pytest.fixture
def serve_folder() -> Iterator[Callable[..., PackServer]]:
    """Call with a folder to get a running PackServer; all servers stop after the test."""
    servers: list[ThreadingHTTPServer] = []

    def start(root: Path, honour_range: bool = True) -> PackServer:
        state = PackServer(root=root, honour_range=honour_range)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
        state.port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return state

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
