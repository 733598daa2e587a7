"""Exponential backoff with jitter: the one retry schedule of every loop that retries.

Attempt ``n`` (0 for the first retry) waits a random time drawn uniformly from
``[cap * (1 - jitter), cap]`` where ``cap = min(maximum, initial * 2**n)``.

* ``jitter=1.0`` is "full jitter" (uniform in ``[0, cap]``; Marc Brooker, "Exponential
  Backoff And Jitter", AWS Architecture Blog, 2015): a fleet that lost the store at the
  same moment comes back spread over the whole window instead of in waves. The gateway
  uplink uses it.
* a smaller ``jitter`` keeps every wait close to the cap, for a caller that must not
  retry almost at once (camera reconnects: ``sources.reconnect_jitter``, default 0.25);
  ``jitter=0.0`` is the plain doubling schedule (webhook dispatch, whose rows already
  start at different times).

Why not tenacity or backoff (PyPI): both draw from the module-level random generator,
so a test cannot seed them without patching a global, and both shape retries as
decorated function calls; our callers are long-lived loops that reset after a success
and wait on an Event so that stop() interrupts the wait.
"""

from __future__ import annotations

import random

#: 2**30 times any initial delay is beyond every configured maximum
_MAX_EXPONENT = 30


def backoff_delay(
    attempt: int,
    initial: float,
    maximum: float,
    jitter: float = 1.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry ``attempt`` (0-based); see the module docstring."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0 (got {attempt})")
    if not 0.0 < initial <= maximum:
        raise ValueError(f"need 0 < initial <= maximum (got {initial}, {maximum})")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be 0..1 (got {jitter})")
    cap = min(maximum, initial * 2.0 ** min(attempt, _MAX_EXPONENT))
    draw = rng.random() if rng is not None else random.random()
    return cap - jitter * cap * draw


class Backoff:
    """The delays of one retry loop: ``next_delay()`` after each failure, ``reset()``
    after a success."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        jitter: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self._initial = initial
        self._max = maximum
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def next_delay(self) -> float:
        delay = backoff_delay(self._attempt, self._initial, self._max, self._jitter, self._rng)
        self._attempt = min(self._attempt + 1, _MAX_EXPONENT)
        return delay
