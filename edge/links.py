"""The state of the store's links to outside platforms (pure value type).

Shared by the store (which measures it), the wire mapping (admin Status), the
reviewer CLI (`edgewatch status`) and the web page, so none of them imports another.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlatformLink:
    name: str  # "viid" (GA/T 1400 platform) or "webhook" (case dispatch)
    target: str  # base URL (no credentials)
    device_id: str  # our ID at the platform ("" for the webhook)
    state: str  # starting | registered | unregistered | failing | stopped | active
    since_us: int  # when the state was entered
    last_ok_us: int | None  # last answered request
    last_error: str  # short, no personal data
    pending: int  # queued, not delivered yet
    delivered: int
    refused: int  # answered "never as sent" (viid) or gave up (webhook)
    oldest_pending_us: int | None
    attempts: int  # push attempts since the store started
