"""The face/plate tracker on synthetic boxes (pure logic)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge.gateway.tracker import Detection, IouTracker, PlateBallot, TrackerConfig
from edge.vision.types import Box


def det(
    x: float,
    y: float = 100.0,
    *,
    w: float = 100.0,
    score: float = 0.9,
    q: float = 0.5,
    text: str | None = None,
    conf: float = 0.9,
    tag: str = "",
) -> Detection[str]:
    return Detection(Box(x, y, x + w, y + w), score, q, tag or f"{x}", text, conf)


def tracker(**kw: object) -> IouTracker[str]:
    return IouTracker("face", TrackerConfig.model_validate(kw))


def test_one_moving_object_keeps_its_id() -> None:
    t = tracker()
    ids = set()
    for f in range(10):
        (track,) = t.update([det(10.0 + 20 * f)], f)
        ids.add(track.track_id)
        assert track.detection_index == 0 and track.state == "confirmed"
    assert ids == {1} and track.hits == 10 and (track.first_frame, track.last_frame) == (0, 9)


def test_velocity_prediction_follows_an_accelerating_object() -> None:
    t = tracker()
    xs = [0, 40, 110, 180, 250, 320]  # 70 px/frame later: IoU with the last box is 0.18
    ids = [t.update([det(float(x))], f)[0].track_id for f, x in enumerate(xs)]
    assert ids == [1] * len(xs)
    plain = tracker()
    plain.update([det(0.0)], 0)
    (a, b) = sorted(plain.update([det(110.0)], 1), key=lambda tr: tr.track_id)
    assert a.detection_index is None and b.detection_index == 0  # no history: a new track


def test_two_neighbours_never_swap_ids() -> None:
    t = tracker()
    for f in range(12):
        tracks = t.update([det(100.0 + 10 * f, tag="A"), det(100.0 + 10 * f, 230.0, tag="B")], f)
        by_id = {tr.track_id: tr.best_shots[0].payload for tr in tracks}
        assert by_id == {1: "A", 2: "B"}


def test_low_score_detection_extends_but_never_starts_a_track() -> None:
    t = tracker(high_score=0.6, low_score=0.1)
    assert t.update([det(0.0, score=0.3)], 0) == []  # weak alone: nothing
    (tr,) = t.update([det(0.0, score=0.9)], 1)
    (tr2,) = t.update([det(5.0, score=0.3)], 2)  # motion blur: weak, still the same face
    assert tr2.track_id == tr.track_id and tr2.detection_index == 0 and tr2.missed == 0
    assert t.update([det(500.0, score=0.3)], 3)[0].detection_index is None


def test_tracks_age_out_and_are_reported_finished_once() -> None:
    t = tracker(max_missed=2)
    t.update([det(0.0)], 0)
    states = [[tr.state for tr in t.update([], f)] for f in (1, 2, 3, 4)]
    assert states == [["confirmed"], ["confirmed"], ["finished"], []]
    assert t.live_count == 0


def test_tentative_tracks_need_min_hits_and_vanish_silently() -> None:
    t = tracker(min_hits=3)
    assert t.update([det(0.0)], 0) == []
    assert t.update([det(5.0)], 1) == []
    (tr,) = t.update([det(10.0)], 2)
    assert tr.state == "confirmed" and tr.hits == 3
    t.update([det(300.0, y=400.0)], 3)  # a one-frame blip
    assert all(x.state != "finished" or x.track_id == 1 for x in t.update([], 4))
    assert [x.track_id for x in t.flush()] == [1]


def test_best_shots_are_the_top_n_by_quality_with_frame_index() -> None:
    t = tracker(best_shots=3)
    qualities = [0.2, 0.9, 0.4, 0.95, 0.1, 0.5]
    for f, q in enumerate(qualities):
        (tr,) = t.update([det(2.0 * f, q=q)], f)
    assert [(s.frame_index, s.quality) for s in tr.best_shots] == [(3, 0.95), (1, 0.9), (5, 0.5)]
    assert tr.best_shots[0].payload == "6.0"


def test_embedding_only_for_clearly_better_shots_and_capped() -> None:
    t = tracker(embed_min_quality=0.3, embed_margin=0.05, max_embeds=3)
    qualities = [0.2, 0.35, 0.37, 0.5, 0.52, 0.49, 0.8, 0.95, 0.99]
    flags = [t.update([det(1.0 * f, q=q)], f)[0].embed for f, q in enumerate(qualities)]
    assert flags == [False, True, False, True, False, False, True, False, False]
    assert not t.update([], 9)[0].embed  # no detection, nothing to embed


def test_max_tracks_bounds_memory() -> None:
    t = tracker(max_tracks=2)
    out = t.update([det(0.0), det(300.0), det(600.0)], 0)
    assert len(out) == 2 and t.dropped_new_tracks == 1


def test_plate_vote_fixes_single_character_misreads() -> None:
    t = IouTracker[str]("plate", TrackerConfig())
    reads = [
        ("粤B12345", 0.9),
        ("粤B12845", 0.6),
        ("粤B1Z345", 0.5),
        ("粤B12345", 0.8),
        ("粤8123", 0.3),
    ]
    for f, (text, conf) in enumerate(reads):
        (tr,) = t.update([det(1.0 * f, text=text, conf=conf)], f)
    assert tr.vote is not None
    assert tr.vote.text == "粤B12345" and tr.vote.best_read == "粤B12345" and tr.vote.reads == 5
    assert 0.0 < tr.vote.confidence < 0.9


def test_ballot_weights_by_confidence() -> None:
    b = PlateBallot()
    for text, conf in [("京A0D123", 0.3), ("京A0D123", 0.3), ("京A00123", 0.95)]:
        b.add(text, conf)
    vote = b.result()
    assert vote is not None and vote.text == "京A00123"
    b.add("", 1.0)
    b.add("京A0D123", 0.0)
    assert PlateBallot().result() is None and b.result() == vote


def test_character_vote_can_beat_every_single_read() -> None:
    b = PlateBallot()
    for text in ("苏E3C5D7X", "苏E3C5O7Y", "苏E8C5D7Y"):
        b.add(text, 0.8)
    vote = b.result()
    assert vote is not None and vote.text == "苏E3C5D7Y" and vote.best_read != vote.text


def test_config_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValidationError, match="low_score"):
        TrackerConfig(high_score=0.3, low_score=0.5)
