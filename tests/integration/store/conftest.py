"""Store fixtures: the same repository tests run on SQLite and on PostgreSQL.

PostgreSQL: one fresh database with a random name per test session (dropped at the
end), one fresh schema per test inside it, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.deployment import init_deployment
from edge.evidence.model import GENESIS_HASH, MatchEvent, canonical_bytes, event_hash
from edge.store.postgres_repo import postgres_repository
from edge.store.repository import NewEvent, StoredBlob
from edge.store.sql_repo import SqlRepository
from edge.store.sqlite_repo import sqlite_repository
from tests.support.loadgen import Deployment, serving
from tests.support.samples import sample_event


@pytest.fixture
def pg_url(pg_schema: Callable[[], str]) -> str:
    """A URL whose connections see only a fresh schema of the session database."""
    return pg_schema()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRepository]:
    if request.param == "sqlite":
        r = sqlite_repository(tmp_path / "store.db")
    else:
        r = postgres_repository(request.getfixturevalue("pg_url"))
    r.open()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def make_events() -> Callable[..., list[tuple[NewEvent, list[StoredBlob]]]]:
    """Linked events of one gateway; ``changes[i]`` replaces fields of event i."""

    def build(
        n: int,
        gateway_id: str = "gw-1",
        start: int = 1,
        prev: str = GENESIS_HASH,
        changes: list[dict[str, Any]] | None = None,
    ) -> list[tuple[NewEvent, list[StoredBlob]]]:
        out = []
        for i in range(n):
            seq = start + i
            e, _ = sample_event(seq, prev, gateway_id)
            if changes and changes[i]:
                e = dataclasses.replace(e, **changes[i])
            out.append(to_new(e))
            prev = event_hash(e)
        return out

    return build


def to_new(
    e: MatchEvent, received_at_us: int = 1_800_000_000_000_000
) -> tuple[NewEvent, list[StoredBlob]]:
    new = NewEvent(e, canonical_bytes(e), event_hash(e), b"s" * 64, received_at_us)
    blobs = [StoredBlob(b.name, b.role, b.media_type, b.sha256, b.size) for b in e.blobs]
    return new, blobs


# --- real deployments: `edgewatch init` output, a real store on 127.0.0.1 ---------------


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    address, _ = init_deployment(tmp_path / "dep", gateways=2)
    return Deployment(tmp_path / "dep", address)


@pytest.fixture
def pg_deployment(tmp_path: Path, pg_url: str) -> Deployment:
    address, _ = init_deployment(tmp_path / "dep", gateways=2, database_url=pg_url)
    return Deployment(tmp_path / "dep", address)


@pytest.fixture
def store(deployment: Deployment) -> Iterator[Deployment]:
    """A running in-process store of ``deployment`` (SQLite)."""
    with serving(deployment):
        yield deployment


@contextlib.contextmanager
def store_process(dep: Deployment) -> Iterator[subprocess.Popen[str]]:
    """`edgewatch store serve` as a real child process, ready when this yields."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge", "store", "serve", "--config", str(dep.path("store.yaml"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving" not in line:
            proc.kill()
            raise AssertionError(f"store did not start: {line} {proc.communicate()[1][-2000:]}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


@pytest.fixture
def spawn_store() -> Callable[
    [Deployment], contextlib.AbstractContextManager[subprocess.Popen[str]]
]:
    return store_process


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=timeout
    )


def run_cli_here(*args: str) -> subprocess.CompletedProcess[str]:
    """`edgewatch ARGS...` through the real CLI entry point, in this process (fast)."""
    from edge.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["edgewatch", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `edgewatch ARGS...` (in-process; the store under test is a real process)."""
    return run_cli_here
