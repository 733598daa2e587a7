"""Retention: unconfirmed matches expire; confirmed ones stay while their case is open.

A background thread of the store purges expired events in batches: the audit entry
(which events, why) is written first, then the events are deleted together with the
blobs no other event uses, in one transaction. A crash in between at worst leaves an
audit entry for a purge that runs again, never an unaudited deletion. Every store
process on one PostgreSQL database may run it: a purge removes the rows, and the bytes,
for all of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge.store.audit import Auditor
from edge.store.config import Retention
from edge.store.repository import Repository

log = logging.getLogger(__name__)

DAY_US = 86_400 * 1_000_000
BATCH = 500


class RetentionWorker:
    def __init__(
        self,
        config: Retention,
        repo: Repository,
        auditor: Auditor,
        clock: Callable[[], int],
    ) -> None:
        self._config = config
        self._repo = repo
        self._auditor = auditor
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def purge_once(self) -> int:
        """Purge everything expired now; returns how many events were removed."""
        cut = self._clock() - self._config.unconfirmed_days * DAY_US
        total = 0
        while not self._stop.is_set():
            ids = self._repo.events.expired_event_ids(cut, BATCH)
            if not ids:
                break
            self._auditor.record(
                "system:retention",
                "retention.purge",
                {
                    "event_ids": ids,
                    "captured_before_us": cut,
                    "rule": f"unconfirmed or closed-case events older than "
                    f"{self._config.unconfirmed_days} days",
                },
            )
            self._repo.events.delete_events(ids)
            total += len(ids)
        if total:
            log.info("retention purge", extra={"events": total})
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.purge_once()
            except Exception:  # a failed purge must not kill the thread; retry later
                log.exception("retention purge failed")
            self._stop.wait(self._config.purge_interval_s)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
