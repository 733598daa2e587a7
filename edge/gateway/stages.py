"""Per-stage timing hooks for the pipeline (benchmarks, metrics).

A timer only ever receives a stage name and a duration, never any data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, Protocol

STAGES: Final = (
    "motion",
    "face_detect",
    "face_align_quality",
    "face_embed",
    "plate_detect",
    "plate_read",
    "track_match",
    "evidence",
)


class StageTimer(Protocol):
    def record(self, stage: str, seconds: float) -> None: ...


@contextmanager
def timed(timer: StageTimer | None, stage: str) -> Iterator[None]:
    """Measure the block with a monotonic clock when a timer is attached."""
    if timer is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        timer.record(stage, time.perf_counter() - start)
