"""SIGKILL a process that is appending to the outbox: nothing committed is lost,
nothing is corrupted, and the chain has no gap or fork after any number of kills.

(SIGKILL tests atomicity of the transaction; power-loss durability rests on
synchronous=FULL, which fsyncs the WAL before a commit returns.)
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from edge.gateway.chainstate import verify_links
from edge.gateway.config import OutboxConfig
from edge.gateway.outbox import Outbox

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from edge.evidence.model import MatchEvent, canonical_bytes
    from edge.gateway.config import OutboxConfig
    from edge.gateway.outbox import Outbox
    from edge.ids import uuid7

    box = Outbox(Path(sys.argv[1]), OutboxConfig())
    box.open()

    def build(seq, prev):
        e = MatchEvent(uuid7(), "gw-test", "cam-1", 1_700_000_000_000_000 + seq, seq, prev,
                       (), (), (), ("m",))
        return e, canonical_bytes(e) + b"\\n" + b"x" * (seq % 7 * 3000)

    while True:
        entry = box.append_event(build)
        sys.stdout.write(f"{entry.sequence} {entry.event_id}\\n")
        sys.stdout.flush()
    """
)


def _run_and_kill(path: Path, lines: int) -> dict[int, str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    seen: dict[int, str] = {}
    for _ in range(lines):
        line = proc.stdout.readline()
        assert line, "child died before it was killed"
        seq, event_id = line.split()
        seen[int(seq)] = event_id
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return seen


def test_sigkill_never_loses_or_forks_the_chain(tmp_path: Path, kit: Any) -> None:
    path = tmp_path / "outbox.sqlite"
    rng = random.Random(7)
    reported: dict[int, str] = {}
    for _ in range(4):
        reported.update(_run_and_kill(path, rng.randint(20, 120)))

        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        box = Outbox(path, OutboxConfig())
        box.open()
        entries = box.pending(limit=100_000)
        events = [kit.decode(e.payload) for e in entries]
        # contiguous from 1, chained, head == newest stored event
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        verify_links(events)
        assert box.head().sequence == len(events)
        # every event the child saw committed is there, with the same id
        stored = {e.sequence: e.event_id for e in entries}
        assert all(stored.get(seq) == eid for seq, eid in reported.items())
        # (events beyond the last line read were committed but their line was unread)
        assert len(events) >= max(reported)
        box.close()
