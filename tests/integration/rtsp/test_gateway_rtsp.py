"""A real gateway process on two live RTSP cameras of a real GStreamer RTSP server:
every watchlisted pass is delivered to the real store, no unlisted plate is.

The streams are short 1080p scenes from the dev set (tests/support/scenes.py; cached
under /tmp/edgewatch-bench, the first run renders one scene): cam-01 shows a listed
person, a listed car and an unlisted car; cam-02 a listed, an unlisted and a listed
car. The server starts in live mode once the gateway is up, so each pass is shown
exactly once; tests/support/density_run.py attributes events by camera and time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.density_run import RunSetup, Variant, run_once
from tests.support.rtsp import missing_tools
from tests.support.scenes import DEFAULT_CACHE, camera_streams

pytestmark = [pytest.mark.timeout(300), pytest.mark.models, pytest.mark.eval]

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    why = missing_tools()
    if why:
        pytest.skip(why)


def test_every_listed_pass_on_two_live_cameras_is_delivered(
    tmp_path: Path, models_dir: Path, eval_dir: Path
) -> None:
    specs, streams = camera_streams(
        2, eval_dir, models_dir, DEFAULT_CACHE, 1, lead_s=9.0, subjects=3, out_dir=tmp_path
    )
    listed = [p for s in streams for p in s.passes if p.listed]
    assert len(listed) == 4 and {p.kind for p in listed} == {"face", "plate"}
    setup = RunSetup(tmp_path, eval_dir, models_dir, specs, streams, settle_s=5.0)

    result = run_once(setup, Variant("current", ROOT))

    assert result.error == ""
    assert result.per_camera == {"cam-01": "2/2", "cam-02": "2/2"}, result.missed
    assert result.unlisted_delivered == 0
    assert result.unattributed_events == 0
