"""Shared fixtures: where the real model pack and evaluation set live.

The Makefile and .ci/run always set EDGE_MODELS_DIR and EDGE_EVAL_DIR, so a test
that needs them fails loudly (rather than skipping) when they are missing.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess

import psycopg
import pytest
import yaml

from edge.config import RuntimeConfig
from edge.modelpack import PackManifest, load_manifest

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session (dropped at the end)."""
    name = "edgewatch_test_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_schema(pg_database: str) -> Callable[[], str]:
    """Factory: a URL whose connections see only a new, empty schema."""

    def make() -> str:
        schema = "t_" + secrets.token_hex(6)
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return f"{pg_database}?options=-csearch_path%3D{schema}"

    return make


def _dir_from_env(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set; run through `make test` or export {name}=../shared/...")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"{name}={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return _dir_from_env("EDGE_MODELS_DIR")


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    return _dir_from_env("EDGE_EVAL_DIR")


@pytest.fixture(scope="session")
def manifest() -> PackManifest:
    return load_manifest()


@pytest.fixture(scope="session")
def runtime() -> RuntimeConfig:
    return RuntimeConfig()


class Deployment:
    """A real local deployment made by `edgewatch init`, driven through the real CLI in
    subprocesses: the store and gateways are separate processes, as in production."""

    def __init__(self, root: Path, models_dir: Path) -> None:
        self.root = root
        self.env = {**os.environ, "EDGE_MODELS_DIR": str(models_dir)}
        self.store: subprocess.Popen[bytes] | None = None
        self._store_log = root.parent / f"{root.name}-store.log"

    def cli(self, *args: str, timeout: float = 300, check: bool = True) -> CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "edge", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        if check:
            assert proc.returncode == 0, f"edgewatch {' '.join(args)}: {proc.stderr[-2000:]}"
        return proc

    def init(self, gateways: int = 1) -> None:
        self.cli("init", str(self.root), "--gateways", str(gateways))

    def start_store(self) -> None:
        log = self._store_log.open("ab")
        mark = self._store_log.stat().st_size
        self.store = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge",
                "--log-level",
                "INFO",
                "store",
                "serve",
                "--config",
                str(self.root / "store.yaml"),
            ],
            stdout=log,
            stderr=log,
            env=self.env,
        )
        deadline = time.monotonic() + 60
        while b"serving" not in self._store_log.read_bytes()[mark:]:
            assert self.store.poll() is None, self._store_log.read_text(errors="replace")
            assert time.monotonic() < deadline, "store did not start within 60 s"
            time.sleep(0.2)

    def stop_store(self, sig: int = signal.SIGTERM) -> None:
        if self.store is not None and self.store.poll() is None:
            self.store.send_signal(sig)
            self.store.wait(timeout=60)
        self.store = None

    def gateway_config(self, n: int = 1, **updates: object) -> Path:
        """gateway-N.yaml with top-level keys replaced (e.g. logging)."""
        path = self.root / f"gateway-{n}.yaml"
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
        cfg.update(updates)
        path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        return path

    def drop_folder(self, n: int = 1) -> Path:
        return self.root / f"gw-{n}" / "drop"

    def events(self) -> list[dict[str, object]]:
        out = self.cli(
            "review",
            "search",
            "--config",
            str(self.root / "reviewer.yaml"),
            "--limit",
            "1000",
            "--json",
        )
        rows: list[dict[str, object]] = json.loads(out.stdout)
        return rows


@pytest.fixture()
def deployment(tmp_path: Path, models_dir: Path) -> Iterator[Deployment]:
    d = Deployment(tmp_path / "deployment", models_dir)
    d.init()
    try:
        yield d
    finally:
        d.stop_store()


@pytest.fixture
def tmpfs_dir(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, so "disk full" is real; skipped where mounting is not allowed."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
