"""The density bench's pure parts: pass attribution and histogram quantiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.api.types import EventRow
from tests.support.density_run import RunResult, Watchlist, attribute, quantile
from tests.support.scenes import CameraStream, Pass

T0 = 1_800_000_000.0


def _event(i: int, cam: str, at_s: float, subject: str, plate: str = "") -> EventRow:
    return EventRow(
        event_id=f"e{i}",
        gateway_id="gw-1",
        camera_id=cam,
        captured_at_us=int((T0 + at_s) * 1e6),
        kind="plate" if plate else "face",
        subject_ids=(subject,),
        plate_texts=(plate,) if plate else (),
        best_similarity=None,
        verdict="pending",
        integrity="ok",
        received_at_us=0,
        sequence=i,
        photo_similarity=None,
        label=None,
    )


def _setup() -> tuple[list[CameraStream], Watchlist]:
    passes = (
        Pass("face", "alice", True, 10.0, 12.5),
        Pass("plate", "粤B12345", True, 13.0, 15.0),
        Pass("plate", "粤B99999", False, 16.0, 18.0),
    )
    streams = [CameraStream(c, Path(f"/x/{c}.ts"), 0, 20.0, passes) for c in ("cam-01", "cam-02")]
    wl = Watchlist()
    wl.ids = {("face", "alice"): "S-face", ("plate", "粤B12345"): "S-plate"}
    return streams, wl


def test_passes_are_attributed_by_camera_subject_and_time() -> None:
    streams, wl = _setup()
    events = [
        _event(1, "cam-01", 11.0, "S-face"),
        _event(2, "cam-01", 14.0, "S-plate", "粤B12345"),
        _event(3, "cam-02", 30.0, "S-plate", "粤B12345"),  # late: after the pass + slack
        _event(4, "cam-02", 5.0, "S-face"),  # before the pass began: not this pass
    ]
    result = RunResult("current", 2)

    attribute(result, streams, wl, events, T0, {"cam-01": 2.0, "cam-02": 11.0})

    assert (result.shown, result.delivered) == (4, 3)
    assert result.per_camera == {"cam-01": "2/2", "cam-02": "1/2"}
    assert result.missed == ["cam-02:face@10.0s"]
    assert (result.late, result.unseen, result.unattributed_events) == (1, 1, 1)
    assert result.unlisted_delivered == 0
    assert result.connect_max_s == 11.0


def test_an_unlisted_plate_delivered_is_counted() -> None:
    streams, wl = _setup()
    events = [_event(1, "cam-01", 17.0, "S-other", "粤B99999")]
    result = RunResult("current", 2)

    attribute(result, streams, wl, events, T0, {})

    assert result.unlisted_delivered == 1
    assert result.delivered == 0 and result.unseen == 4  # never connected


def test_quantile_interpolates_within_the_bucket() -> None:
    buckets = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert quantile(buckets, 0.5) == pytest.approx(0.1)
    assert quantile(buckets, 0.7) == pytest.approx(0.3)
    assert quantile(buckets, 0.99) == pytest.approx(0.95)
    assert quantile({}, 0.99) is None
    assert quantile({1.0: 0.0, float("inf"): 0.0}, 0.99) is None
    assert quantile({1.0: 1.0, float("inf"): 10.0}, 0.99) == 1.0  # beyond the last bound
