import numpy as np
import pytest

from edge.errors import WatchlistError
from edge.watchlist.delta import SubjectChange, apply_changes
from edge.watchlist.types import Subject, WatchlistSnapshot, empty_matrix


def _rows(*vals: float) -> np.ndarray:
    return np.array([[v, 1.0 - v] for v in vals], dtype=np.float32)


BASE = WatchlistSnapshot(
    version=3,
    face_model_id="m",
    subjects=(Subject("a", "A"), Subject("b", "B")),
    face_subject_ids=("a", "a"),
    face_matrix=_rows(0.1, 0.2),
    plates=(("b", "粤B12345"),),
)


def test_upsert_replaces_and_remove_deletes_in_version_order() -> None:
    changes = [
        SubjectChange(5, "remove", Subject("b", "B"), empty_matrix(), ()),
        SubjectChange(4, "upsert", Subject("a", "A2"), _rows(0.9), ("沪A00001",)),
        SubjectChange(6, "upsert", Subject("c", "C"), empty_matrix(), ("京C11111",)),
    ]
    out = apply_changes(BASE, changes, 6, "m")
    assert out.version == 6
    assert {s.subject_id: s.label for s in out.subjects} == {"a": "A2", "c": "C"}
    assert out.face_subject_ids == ("a",)
    np.testing.assert_allclose(out.face_matrix, _rows(0.9))
    assert sorted(out.plates) == [("a", "沪A00001"), ("c", "京C11111")]
    assert out.face_model_id == "m"


def test_removing_every_template_clears_the_model() -> None:
    out = apply_changes(
        BASE, [SubjectChange(4, "remove", Subject("a", "A"), empty_matrix(), ())], 4, None
    )
    assert out.face_subject_ids == () and out.face_model_id is None
    assert out.plates == (("b", "粤B12345"),)


def test_templates_of_another_model_are_refused() -> None:
    change = SubjectChange(4, "upsert", Subject("d", "D"), _rows(0.5), ())
    with pytest.raises(WatchlistError, match="full snapshot"):
        apply_changes(BASE, [change], 4, "other")


def test_first_templates_set_the_model() -> None:
    empty = WatchlistSnapshot(1, None, (), (), empty_matrix(), ())
    out = apply_changes(
        empty, [SubjectChange(2, "upsert", Subject("a", "A"), _rows(0.3), ())], 2, "m"
    )
    assert out.face_model_id == "m" and out.face_subject_ids == ("a",)
