"""GA/T 1400 identifiers, times and answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.viid.ids import (
    ViidFormatError,
    check_device_id,
    format_time,
    image_id,
    object_id,
    parse_time,
)
from edge.viid.objects import ResponseStatus, parse_statuses, status_list_json

FIXTURES = Path(__file__).with_name("fixtures")


def test_times_are_local_wall_clock_without_zone() -> None:
    us = 1_750_000_001_000_000  # 2025-06-15 15:06:41 UTC
    assert format_time(us, 480) == "20250615230641"
    assert format_time(us, 0) == "20250615150641"
    assert parse_time("20250615230641", 480) == us
    assert parse_time("20250615230641250", 480) == us + 250_000  # with milliseconds


@pytest.mark.parametrize("bad", ["2025-06-15 23:06:41", "2025061523064", "20251315230641", ""])
def test_malformed_times_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(ViidFormatError, match=r"yyyyMMddHHmmss|calendar"):
        parse_time(bad, 480)


def test_device_ids_are_twenty_digits() -> None:
    assert check_device_id("44120000005030000001") == "44120000005030000001"
    for bad in ("4412000000503000000", "4412000000503000000X", "441200000050300000011"):
        with pytest.raises(ViidFormatError, match="20 digits"):
            check_device_id(bad)


def test_id_composition_and_its_checks() -> None:
    src = image_id("44120000005030000001", "20250615230641", 123_456)
    assert src == "44120000005030000001" + "02" + "20250615230641" + "23456"
    assert object_id(src, "02", 1) == src + "0200001"
    with pytest.raises(ViidFormatError):
        object_id(src[:-1], "02", 1)
    with pytest.raises(ViidFormatError):
        image_id("1234", "20250615230641", 1)


def test_answers_are_read_from_a_list_or_a_single_object_with_any_code_type() -> None:
    listed = parse_statuses(json.loads((FIXTURES / "response_list.json").read_text()))
    assert [(s.status_code, s.ok) for s in listed] == [(0, True), (8, False)]
    assert listed[0].object_id.endswith("0200001") and listed[1].status_string.startswith("Inv")
    single = parse_statuses(json.loads((FIXTURES / "response_single.json").read_text()))
    assert single == [
        ResponseStatus(0, "OK", "44120000005030000001", "/VIID/System/Register", "20250615230642")
    ]
    assert parse_statuses({"something": "else"}) == [] and parse_statuses([1]) == []
    assert parse_statuses({"ResponseStatusObject": {"StatusCode": "x"}})[0].status_code == 1


def test_an_answer_we_build_reads_back() -> None:
    s = ResponseStatus(0, "OK", "x" * 48, "/VIID/Faces", "20250615230641")
    assert parse_statuses(status_list_json([s, s])) == [s, s]
