from __future__ import annotations

import pytest

from edge.errors import QueryError
from edge.store.plates import plate_skeleton
from edge.store.repository import EventQuery
from edge.store.sql_search import build_search, parse_cursor


def test_skeleton_merges_confusable_reads_only() -> None:
    assert plate_skeleton("粤B8O5Z2") == plate_skeleton("粤B 8052Z") == plate_skeleton("粤b8052z")
    assert plate_skeleton("粤B80521") != plate_skeleton("粤B80529")
    assert plate_skeleton("粤B80521") != plate_skeleton("京B80521")


def test_filter_values_are_bound_never_spliced() -> None:
    evil = "'; DROP TABLE events; --"
    sql, params = build_search(
        EventQuery(plate=evil, camera_id=evil, gateway_id=evil, subject_ids=(evil,)), "e.id"
    )
    assert "DROP" not in sql and "'" not in sql
    assert params.count(evil) == 3


@pytest.mark.parametrize("bad", ["", "abc", "1:", ":x", "1:a b", "9" * 25 + ":x"])
def test_cursor_must_be_one_we_issued(bad: str) -> None:
    with pytest.raises(QueryError):
        parse_cursor(bad)


def test_plate_search_drives_from_the_plate_index() -> None:
    sql, _ = build_search(EventQuery(plate="粤B12345", camera_id="c"), "e.id")
    assert sql.startswith("SELECT e.id, d.captured_at_us, d.event_id FROM event_plates d")
