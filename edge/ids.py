"""Identifiers: the pattern every configured id follows, and ids minted once at their
origin (events, subjects)."""

from __future__ import annotations

import os
import time
import uuid

#: ids of gateways, cameras, users: short, lowercase, safe in paths and certificate names
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
#: a sha256 in lowercase hex (token hashes, certificate fingerprints)
HEX64 = r"^[0-9a-f]{64}$"


def uuid7(unix_ms: int | None = None) -> str:
    """A UUIDv7 (RFC 9562): 48-bit millisecond timestamp, then random bits.

    Time-ordered ids keep database indexes append-friendly and make event ids sort by
    capture time; Python 3.11 has no uuid.uuid7, so it is built here.
    """
    ms = int(time.time() * 1000) if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return str(uuid.UUID(int=value))
