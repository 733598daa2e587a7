"""Fixtures building real, chained match events with real JPEG blobs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.samples import Sample, sample_chain, sample_event


@pytest.fixture
def make_event() -> Callable[..., Sample]:
    """make_event(sequence, prev_hash=..., gateway_id=..., **field_changes)."""
    return sample_event


@pytest.fixture
def make_chain() -> Callable[..., list[Sample]]:
    """make_chain(n, gateway_id=...) -> n linked events, sequences 1..n."""
    return sample_chain
