"""Group commit: many threads' items made durable together, one commit at a time.

A durable commit (the database's fsync, evidence images included) costs about the same for
one event as for a hundred, so items submitted from every Deliver stream queue here
and whoever waits for a result while no commit is running becomes the leader: it takes
everything queued (up to ``most``), commits it in one go and wakes the others. Items
submitted while a commit runs form the next group. No thread of its own: nothing to
start or stop.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")


class Ticket(Generic[T, R]):
    """One submitted item; its result once the group holding it is committed."""

    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    def __init__(self, commit: Callable[[Sequence[T]], Sequence[R]], most: int = 256) -> None:
        """``commit(items)`` makes items durable and returns one result per item."""
        self._commit = commit
        self._most = most
        self._cond = threading.Condition()
        self._queue: collections.deque[Ticket[T, R]] = collections.deque()
        self._leading = False

    def submit(self, item: T) -> Ticket[T, R]:
        ticket: Ticket[T, R] = Ticket(item)
        with self._cond:
            self._queue.append(ticket)
        return ticket

    def wait(self, ticket: Ticket[T, R]) -> R:
        """The ticket's result; commits the waiting group when no one else is."""
        with self._cond:
            while not ticket.done:
                if self._leading:
                    self._cond.wait()
                else:
                    self._lead()
        if ticket.error is not None:
            raise ticket.error
        return cast(R, ticket.result)

    def _lead(self) -> None:
        """Commit the oldest queued group (called with the condition held)."""
        group = [self._queue.popleft() for _ in range(min(self._most, len(self._queue)))]
        self._leading = True
        results: Sequence[R] = ()
        error: BaseException | None = None
        self._cond.release()
        try:
            results = self._commit([t.item for t in group])
            if len(results) != len(group):
                error = RuntimeError(f"commit gave {len(results)} results for {len(group)}")
        except BaseException as e:  # every waiter of the group learns of the failure
            error = e
        finally:
            self._cond.acquire()
            for i, t in enumerate(group):
                if error is None:
                    t.result = results[i]
                else:
                    t.error = error
                t.done = True
            self._leading = False
            self._cond.notify_all()
