"""Small concurrency helpers of the ingest path."""

from __future__ import annotations

import threading
from collections.abc import Callable


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


class Beside:
    """Runs ``work`` on a thread of its own, beside the caller's work: ``start()``, then
    ``join()`` waits and raises what ``work`` raised (``wait()`` only waits)."""

    def __init__(self, work: Callable[[], None], name: str) -> None:
        self._work = work
        self._name = name
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as e:  # handed to whoever joins
            self._error = e

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def join(self) -> None:
        self.wait()
        if self._error is not None:
            raise self._error
