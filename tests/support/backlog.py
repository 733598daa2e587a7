"""A gateway backlog made of signed sample events (tests and benchmarks).

Fills a real outbox the way the pipeline does (``Outbox.append_event`` mints the chain
link, the builder signs the event for it), with sample face + plate evidence whose
scene is a noise JPEG of a chosen size.
"""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.evidence.model import MatchEvent
from edge.evidence.signing import sign_event
from edge.gateway.outbox import Outbox, OutboxEntry
from edge.health import GatewayHealth
from edge.wire.mapping import event_to_proto
from tests.support.samples import sample_event, with_scene


def fill_outbox(
    outbox: Outbox, key: Ed25519PrivateKey, gateway_id: str, scenes: list[bytes], n: int
) -> list[OutboxEntry]:
    """``n`` more events of ``gateway_id``; event i carries ``scenes[sequence % len]``."""

    def build(sequence: int, prev_hash: str) -> tuple[MatchEvent, bytes]:
        now = time.time_ns() // 1000
        event, blobs = sample_event(sequence, prev_hash, gateway_id, captured_at_us=now)
        event, blobs = with_scene(event, blobs, scenes[sequence % len(scenes)])
        return event, event_to_proto(event, sign_event(key, event), blobs).SerializeToString()

    return [outbox.append_event(build) for _ in range(n)]


def outbox_health(gateway_id: str, outbox: Outbox) -> GatewayHealth:
    """A heartbeat of a gateway whose only activity is its outbox."""
    stats = outbox.stats()
    return GatewayHealth(
        gateway_id=gateway_id,
        sent_at_us=time.time_ns() // 1000,
        software_version="backlog",
        cameras=(),
        queue_depth=0,
        outbox_events=stats.pending_events,
        outbox_bytes=stats.pending_bytes,
        model_ids=(),
        face_model_id=None,
        watchlist_version=0,
        last_sequence=stats.head_sequence,
    )
