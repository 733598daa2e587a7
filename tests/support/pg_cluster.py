"""A throwaway PostgreSQL cluster for tests that must restart PostgreSQL.

The machine's main cluster (127.0.0.1:5432) is shared with other tests and must never
be restarted, so a test that restarts PostgreSQL gets its own cluster: ``initdb`` into
a temporary folder, ``pg_ctl start`` on a free loopback port, ``pg_ctl restart`` when
the test asks (the same server binary and the same fast shutdown as ``pg_ctlcluster
VERSION NAME restart``), ``pg_ctl stop`` and the folder removed at the end. As root the
commands run as the ``postgres`` user (initdb refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from edge.deployment import free_ports


def _bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
    path = Path(out.stdout.strip())
    return path if (path / "initdb").is_file() and (path / "pg_ctl").is_file() else None


class ThrowawayCluster:
    """``start()`` creates and starts it; ``restart()``; ``stop()`` removes it."""

    def __init__(self) -> None:
        self.port = 0
        self._dir: Path | None = None
        self._bin = _bindir()

    @property
    def available(self) -> bool:
        return self._bin is not None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        assert self._bin is not None and self._dir is not None
        cmd = [str(self._bin / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self._dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} {args[:2]} failed: {done.stderr[-2000:]} {tail}")

    def start(self) -> None:
        if self._bin is None:
            raise RuntimeError("PostgreSQL server binaries (pg_config --bindir) not found")
        self._dir = Path(tempfile.mkdtemp(prefix="edgewatch-pg-"))
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self._dir, pg.pw_uid, pg.pw_gid)
        (self.port,) = free_ports(1)
        data = str(self._dir / "data")
        self._run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run("pg_ctl", "-D", data, "-l", str(self._dir / "server.log"), "-w", "start", "-o",
                  f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1")  # fmt: skip

    def restart(self) -> None:
        """Fast shutdown (sessions cut, like `pg_ctlcluster ... restart`) and start."""
        assert self._dir is not None
        data, log = str(self._dir / "data"), str(self._dir / "server.log")
        self._run("pg_ctl", "-D", data, "-l", log, "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        if self._dir is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self._dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
