"""Pure parts of the stream readers: the pts-to-wall-clock mapping and the scaling of
a sub-stream scene onto its main-stream picture."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from pydantic import ValidationError

from edge.gateway.av_common import PtsClock, open_options
from edge.gateway.config import CameraConfig
from edge.gateway.evidence import HIRES_REDACT_MARGIN, MatchedFace, SceneMatches, upscale_scene
from edge.gateway.sources import SourceSettings
from edge.vision.types import Box

TB = Fraction(1, 90_000)


def test_pts_clock_keeps_the_least_delayed_offset_and_reanchors_on_jumps() -> None:
    clock = PtsClock()
    assert clock.wall_us(None, TB, 123) == 123  # nothing known yet: arrival time
    clock.observe(90_000, TB, 10_050_000)  # pts 1 s arrived at 10.05 s (50 ms late)
    clock.observe(180_000, TB, 11_020_000)  # pts 2 s arrived 20 ms late: better
    clock.observe(270_000, TB, 12_300_000)  # delayed 300 ms: ignored
    assert clock.wall_us(270_000, TB, 0) == 12_020_000
    clock.observe(90_000, TB, 60_000_000)  # the camera restarted its clock
    assert clock.reanchors == 1 and clock.wall_us(90_000, TB, 0) == 60_000_000


def test_open_options_per_protocol() -> None:
    s = SourceSettings(stall_timeout_s=2.5, rtsp_transport="udp")
    probe = {"analyzeduration": "1000000"}
    assert open_options("rtsp://h/x", s) == {
        "rtsp_transport": "udp",
        "timeout": "2500000",
        **probe,
    }
    auto = s.model_copy(update={"rtsp_transport": "auto"})
    assert open_options("RTSPS://h/x", auto) == {"timeout": "2500000", **probe}
    assert open_options("http://h/x.mjpg", s) == {"rw_timeout": "2500000"}


def test_upscale_scene_scales_boxes_and_grows_the_redacted_ones() -> None:
    small = np.zeros((90, 160, 3), np.uint8)
    big = np.full((360, 640, 3), 7, np.uint8)
    face = MatchedFace(Box(10, 10, 20, 30), "s1", 0.9, 0.8, "m")
    scene = SceneMatches("c", 1, small, (face,), (), (Box(100, 40, 110, 50),))
    up = upscale_scene(scene, big)
    assert up.image is big
    assert up.faces[0].box == Box(40, 40, 80, 120) and up.faces[0].subject_id == "s1"
    grown = Box(400, 160, 440, 200).expand(HIRES_REDACT_MARGIN)
    assert up.redact_boxes == (grown,)


def test_detect_source_needs_two_stream_urls() -> None:
    ok = CameraConfig(id="c1", source="rtsp://h/main", detect_source="rtsp://h/sub")
    assert ok.detect_source == "rtsp://h/sub"
    for source, detect in (("file:/x.mp4", "rtsp://h/sub"), ("rtsp://h/main", "usb:0")):
        with pytest.raises(ValidationError, match=r"detect_source .* stream URLs"):
            CameraConfig(id="c1", source=source, detect_source=detect)
