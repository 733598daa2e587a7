"""How the uplink turns the outbox into Deliver requests (a real outbox on SQLite)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge.evidence.model import MatchEvent
from edge.evidence.signing import generate_signing_key, sign_event
from edge.gateway.config import OutboxConfig, UplinkConfig
from edge.gateway.outbox import Outbox
from edge.gateway.uplink import outbox_requests
from edge.wire.mapping import event_to_proto


def _signed_builder(kit: Any, pad: int) -> Callable[[int, str], tuple[MatchEvent, bytes]]:
    """Payloads as the gateway stores them: a SignedEvent with ``pad`` bytes of blob."""
    key = generate_signing_key()

    def build(sequence: int, prev_hash: str) -> tuple[MatchEvent, bytes]:
        event = kit.make_event(sequence, prev_hash)
        pb = event_to_proto(event, sign_event(key, event), {})
        pb.blobs.add(name="filler", content=b"x" * pad)  # size only; never verified here
        return event, pb.SerializeToString()

    return build


@pytest.fixture
def outbox(tmp_path: Path) -> Any:
    box = Outbox(tmp_path / "outbox.sqlite", OutboxConfig())
    box.open()
    yield box
    box.close()


def _sizes(outbox: Outbox, cfg: UplinkConfig, window: threading.Semaphore, n: int) -> list[int]:
    """Sizes of the first ``n`` requests (then delivery is ended)."""
    stop = threading.Event()
    requests = outbox_requests(outbox, cfg, window, stop.is_set, threading.Event())
    sizes = [len(next(requests).events) for _ in range(n)]
    stop.set()
    requests.close()
    return sizes


def test_pending_events_go_out_in_full_batches_in_order(kit: Any, outbox: Outbox) -> None:
    build = _signed_builder(kit, pad=100)
    for _ in range(70):
        outbox.append_event(build)
    cfg = UplinkConfig(batch_events=32, max_in_flight=128)
    stop = threading.Event()
    requests = outbox_requests(
        outbox, cfg, threading.Semaphore(128), stop.is_set, threading.Event()
    )
    got = [next(requests) for _ in range(3)]
    stop.set()
    assert [len(r.events) for r in got] == [32, 32, 6]
    sequences = [e.event.sequence for r in got for e in r.events]
    assert sequences == list(range(1, 71))


def test_a_full_window_sends_the_partial_batch_at_once(kit: Any, outbox: Outbox) -> None:
    build = _signed_builder(kit, pad=100)
    for _ in range(40):
        outbox.append_event(build)
    window = threading.Semaphore(10)  # ten events may wait for acks
    cfg = UplinkConfig(batch_events=32, max_in_flight=64)
    stop = threading.Event()
    requests = outbox_requests(outbox, cfg, window, stop.is_set, threading.Event())
    first = next(requests)
    assert len(first.events) == 10  # not held back until 32 could go
    threading.Timer(0.2, window.release, args=(3,)).start()  # three acks arrive
    second = next(requests)
    assert [e.event.sequence for e in second.events] == [11, 12, 13]
    stop.set()


def test_batches_stay_under_batch_bytes(kit: Any, outbox: Outbox) -> None:
    build = _signed_builder(kit, pad=30_000)
    for _ in range(10):
        outbox.append_event(build)
    cfg = UplinkConfig(batch_events=32, batch_bytes=100_000)
    assert _sizes(outbox, cfg, threading.Semaphore(64), 4) == [3, 3, 3, 1]


def test_batch_bytes_must_leave_room_for_framing() -> None:
    with pytest.raises(ValueError, match=r"batch_bytes \(2097152\) must be below max_message"):
        UplinkConfig(batch_bytes=2 << 20, max_message_bytes=2 << 20)
