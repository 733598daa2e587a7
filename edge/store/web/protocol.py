"""uvicorn's h11 protocol with a deadline for the request head (slow-headers clients).

uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not the
time a client may take to send a request line and headers: its keep-alive timer is
cancelled by every byte received, and a fresh connection has no timer at all. A
client that trickles one header byte per second would hold its connection (and a
slot of ``limit_concurrency``) for ever. This subclass gives every connection
``header_timeout_s`` to deliver a complete request head, measured from the moment the
connection is ready (after the TLS handshake) or the previous response was sent;
when the deadline passes with the head still incomplete, the connection is closed.
The request body has its own deadline in the ASGI layer (edge/store/web/limits.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


class HeaderDeadlineProtocol(H11Protocol):
    #: set on the subclass made by ``with_header_timeout``
    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _serving(self) -> bool:
        """A request's head is in and its response is not finished yet."""
        return self.cycle is not None and not self.cycle.response_complete

    def _head_expired(self) -> None:
        self._head_timer = None
        if not self._serving() and not self.transport.is_closing():
            log.info("web connection closed: request head not complete in time")
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._serving():
            self._disarm()  # the head is in: the ASGI layer times the body

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._serving():
            # the next request on this connection (or the rest of an unread body that
            # uvicorn drains) gets the same deadline
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class uvicorn instantiates per connection, with this deadline."""
    return type("HeaderDeadline", (HeaderDeadlineProtocol,), {"header_timeout_s": seconds})
