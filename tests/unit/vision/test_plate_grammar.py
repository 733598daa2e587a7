"""Plate grammar: normalisation, validation per kind, masking (pure logic, table-driven)."""

from __future__ import annotations

import pytest

from edge.vision.plate_grammar import (
    PLATE_KINDS,
    PROVINCES,
    is_sign_text,
    mask_plate,
    normalise_plate,
    validate_plate,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("粤B·6R678", "粤B6R678"),
        ("粤 B 6R678", "粤B6R678"),
        ("粤B-6R678", "粤B6R678"),
        ("粤B.6R678", "粤B6R678"),
        ("粤B・6R678", "粤B6R678"),
        ("粤ｂ６ｒ６７８", "粤B6R678"),  # full-width letters and digits
        ("粤B\u30006R678", "粤B6R678"),  # ideographic space
        ("粤b6r678", "粤B6R678"),
        ("粤BO1I23", "粤B01123"),  # O/I in the serial are 0/1
        ("粤O·1234警", "粤O1234警"),  # O as authority letter is kept (police)
        ("wj粤6788b", "WJ粤6788B"),
        ("使1984O6", "使198406"),
        ("民航BO16", "民航B016"),
        ("民B9016", "民航B9016"),  # readers emit the 民航 prefix as one symbol
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise_plate(raw) == expected


VALID = [
    ("粤B6R678", "regular"),
    ("皖AY766D", "regular"),
    ("沪B74992", "regular"),
    ("鲁L88888", "regular"),
    ("渝D00796", "regular"),  # double-row yellow read as one line
    ("粤BD01366", "new_energy"),  # small car: D at position 3
    ("皖AF05568", "new_energy"),  # small car: F at position 3
    ("皖ADB5758", "new_energy"),  # letter allowed at position 4
    ("粤B12345D", "new_energy"),  # large vehicle: D last
    ("粤B12345F", "new_energy"),
    ("鄂F8888警", "police"),
    ("粤O1234警", "police"),
    ("京A1234学", "learner"),
    ("苏E1234挂", "trailer"),
    ("沪A1234试", "test"),
    ("沪A1234超", "oversize"),
    ("粤ZDJ76港", "hk_macau"),
    ("粤Z1234澳", "hk_macau"),
    ("沪A1707领", "consulate"),
    ("使198476", "embassy"),
    ("使224424", "embassy"),
    ("224424使", "embassy"),
    ("WJ粤6788B", "armed_police"),
    ("WJ京12345", "armed_police"),
    ("WJ京1234消", "armed_police"),
    ("WJ12345", "armed_police"),
    ("VA12345", "military"),
    ("KL00123", "military"),
    ("北K12345", "military"),
    ("民航B9016", "civil_aviation"),
    # separators and full width do not matter
    ("粤B·D01366", "new_energy"),
    ("ＷＪ粤６７８８Ｂ", "armed_police"),
]


@pytest.mark.parametrize(("text", "kind"), VALID)
def test_valid_plates(text: str, kind: str) -> None:
    result = validate_plate(text)
    assert result.valid, result.reason
    assert result.kind == kind
    assert result.reason is None
    assert result.text == normalise_plate(text)
    assert kind in PLATE_KINDS


INVALID = [
    ("", "empty"),
    ("危险品", "hazardous"),
    ("粤B危险品", "hazardous"),
    ("危险品12", "hazardous"),
    ("ABC", "does not match"),
    ("X粤B1234", "province"),
    ("1粤B1234", "province"),
    ("粤11234X", "authority letter"),
    ("粤I12345", "I or O"),
    ("粤O12345", "I or O"),  # O only on police plates
    ("粤B1234", "7 characters"),  # too short
    ("粤B1234567", "7 characters"),  # too long
    ("粤B123456", "D/F"),  # 8 chars without D/F
    ("粤BA12345", "D/F"),  # A is not a new-energy marker
    ("粤BD1234A", "D/F"),  # small new energy: last four digits
    ("粤BD12A34", "D/F"),
    ("粤BDA1234X", "7 characters"),
    ("粤B1234D5", "D/F"),
    ("粤BABC12", "at most 2 letters"),
    ("粤B警1234", "last character"),
    ("京A1234港", "粤Z"),
    ("沪AB707领", "does not match"),  # consulate serial is digits only
    ("使19847", "does not match"),
    ("使1984767", "does not match"),
    ("WJ粤678", "does not match"),
    ("民航B901", "does not match"),
    ("粤B6R67$", "never appear"),
    ("粤B6R6?8", "never appear"),
]


@pytest.mark.parametrize(("text", "why"), INVALID)
def test_invalid_plates(text: str, why: str) -> None:
    result = validate_plate(text)
    assert not result.valid
    assert result.kind is None
    assert result.reason is not None
    assert why in result.reason


def test_all_31_provinces_accepted() -> None:
    assert len(PROVINCES) == 31
    assert len(set(PROVINCES)) == 31
    for p in PROVINCES:
        assert validate_plate(f"{p}A12345").kind == "regular"
        assert validate_plate(f"{p}AD12345").kind == "new_energy"
        assert validate_plate(f"{p}A1234警").kind == "police"


@pytest.mark.parametrize("not_province", ["港", "澳", "台", "中", "军", "0"])
def test_non_province_first_char_rejected(not_province: str) -> None:
    assert not validate_plate(f"{not_province}A12345").valid


def test_reason_never_quotes_the_plate() -> None:
    for text, _ in INVALID:
        reason = validate_plate(text).reason or ""
        if len(text) >= 4:
            assert text not in reason


def test_sign_text() -> None:
    assert is_sign_text("危险品")
    assert is_sign_text("危")
    assert not is_sign_text("粤B6R678")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("粤H12345", "粤H·***45"),
        ("粤H·12345", "粤H·***45"),
        ("粤BD01366", "粤B·****66"),
        ("WJ粤6788B", "WJ·****8B"),
        ("使224424", "使2·***24"),
        ("粤H1", "***"),
        ("", "*"),
    ],
)
def test_mask(text: str, masked: str) -> None:
    assert mask_plate(text) == masked


def test_mask_hides_the_middle() -> None:
    masked = mask_plate("粤B6R678")
    assert "6R6" not in masked
