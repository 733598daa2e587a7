"""Fixtures for the gateway building blocks (real SQLite files, real sockets)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.evidence.model import MatchEvent, PlateHit, canonical_bytes, event_from_dict
from edge.ids import uuid7

GATEWAY = "gw-test"


class EventKit:
    """Builds chained test events; handed to tests by the ``kit`` fixture."""

    @staticmethod
    def make_event(sequence: int, prev_hash: str, gateway: str = GATEWAY) -> MatchEvent:
        return _make_event(sequence, prev_hash, gateway)

    @staticmethod
    def builder(pad: int = 0) -> Callable[[int, str], tuple[MatchEvent, bytes]]:
        return _builder(pad)

    @staticmethod
    def decode(payload: bytes) -> MatchEvent:
        return event_from_dict(json.loads(payload.split(b"\n", 1)[0]))


@pytest.fixture(scope="session")
def kit() -> EventKit:
    return EventKit()


def _make_event(sequence: int, prev_hash: str, gateway: str = GATEWAY) -> MatchEvent:
    plate = PlateHit("S-1", "粤B12345", "粤B12345", "exact", 0.9, "blue", (1, 2, 3, 4), "m", None)
    return MatchEvent(
        event_id=uuid7(),
        gateway_id=gateway,
        camera_id="cam-1",
        captured_at_us=1_700_000_000_000_000 + sequence,
        sequence=sequence,
        prev_hash=prev_hash,
        faces=(),
        plates=(plate,),
        blobs=(),
        models=("m",),
    )


def _builder(pad: int = 0) -> Callable[[int, str], tuple[MatchEvent, bytes]]:
    """A builder whose payload is the canonical event (+ ``pad`` filler bytes)."""

    def build(sequence: int, prev_hash: str) -> tuple[MatchEvent, bytes]:
        event = _make_event(sequence, prev_hash)
        return event, canonical_bytes(event) + b"\n" + b"x" * pad

    return build


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
