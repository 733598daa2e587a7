"""Frame sampling: which captured frames are offered for analysis.

``RateSampler`` keeps a camera at its configured analysis rate using capture
timestamps (not arrival times), so a video decoded faster than real time and a
jittery stream are sampled alike. What happens to admitted frames (bounded waiting,
fairness, drops) is the scheduler's job (edge/gateway/scheduler.py).
"""

from __future__ import annotations

import logging

from edge.errors import ConfigError

log = logging.getLogger(__name__)


class RateSampler:
    """Admits at most ``fps`` frames per second of capture time (None: every frame)."""

    def __init__(self, fps: float | None) -> None:
        if fps is not None and fps <= 0:
            raise ConfigError(f"analysis fps must be > 0 (or unset for every frame), got {fps}")
        self._period_us = None if fps is None else round(1_000_000 / fps)
        self._next_due: int | None = None
        self.admitted = 0
        self.skipped = 0

    def admit(self, captured_at_us: int) -> bool:
        period = self._period_us
        if period is None:
            self.admitted += 1
            return True
        # a frame slightly early for its slot still takes it: arrival jitter must not
        # make a 25 fps camera sampled at 5 fps drift to every sixth frame
        tolerance = period // 10
        if self._next_due is not None and captured_at_us < self._next_due - tolerance:
            self.skipped += 1
            return False
        if self._next_due is None or captured_at_us > self._next_due + period:
            self._next_due = captured_at_us + period  # first frame or after a gap
        else:
            self._next_due += period
        self.admitted += 1
        return True
