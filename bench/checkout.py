"""Puts the checkout's root on sys.path, so benchmarks share the test tooling.

The tooling (sample events, a tiny gateway client, outbox backlogs) lives in
tests/support/, outside the installed package; a benchmark imports this module first:
``import checkout  # noqa: F401`` before ``from tests.support... import ...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
