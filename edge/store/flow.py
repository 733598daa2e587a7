"""Small concurrency helpers of the ingest path."""

from __future__ import annotations

import threading


class Budget:
    """Events and bytes of one stream waiting for their acks; the reader waits above
    either limit (but always lets one batch through, whatever its size)."""

    def __init__(self, events: int, size: int) -> None:
        self._limits = (events, size)
        self._events = 0
        self._size = 0
        self._cond = threading.Condition()

    def take(self, events: int, size: int) -> None:
        with self._cond:
            while self._events and (
                self._events + events > self._limits[0] or self._size + size > self._limits[1]
            ):
                self._cond.wait()
            self._events += events
            self._size += size

    def give(self, events: int, size: int) -> None:
        with self._cond:
            self._events -= events
            self._size -= size
            self._cond.notify()
