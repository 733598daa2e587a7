"""Confusable-weighted plate distance and the plate index (exact + fuzzy)."""

from __future__ import annotations

import random
import time

import pytest

from edge.watchlist.plate_index import PlateIndex, confusable_distance


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("粤B12345", "粤B12345", 0.0),
        ("粤B12345", "粤812345", 0.5),  # 8/B
        ("粤B1234S", "粤B12345", 0.5),  # 5/S
        ("粤B0D123", "粤BDQ123", 1.0),  # 0/D and D/Q, one confusable each
        ("粤BO1234", "粤B01234", 0.5),  # O/0
        ("粤BZ1234", "粤B21234", 0.5),  # 2/Z
        ("粤BI1234", "粤B11234", 0.5),  # 1/I
        ("粤BG1234", "粤B61234", 0.5),  # 6/G
        ("粤BT1234", "粤B71234", 0.5),  # 7/T
        ("粤BA1234", "粤B41234", 0.5),  # 4/A
        ("粤B12345", "粤B12346", 1.0),  # 5/6 are not confusable
        ("粤B12345", "皖B12345", 1.0),  # province characters have no partner
        ("粤B12345", "粤B1234", 1.0),  # deletion
        ("粤B1234", "粤B12345", 1.0),  # insertion
        ("粤B12345", "B12345", 1.0),  # missing province
        ("粤B12345D", "粤B123450", 0.5),  # 8-char new-energy plate, D/0
        ("粤B12345", "12345粤B", 4.0),
        ("", "粤B1", 3.0),
        ("ABC", "", 3.0),
    ],
)
def test_confusable_distance(a: str, b: str, expected: float) -> None:
    assert confusable_distance(a, b) == pytest.approx(expected)
    assert confusable_distance(b, a) == pytest.approx(expected)


def test_distance_limit_stops_early_but_never_underestimates() -> None:
    assert confusable_distance("粤B12345", "京A99999", limit=1.0) > 1.0
    assert confusable_distance("粤B12345", "粤812345", limit=1.0) == pytest.approx(0.5)


def _index() -> PlateIndex:
    return PlateIndex(
        [
            ("s1", "vendor one", "粤B12345"),
            ("s2", "vendor two", "粤B88888"),
            ("s3", "vendor three", "皖AD12345"),
        ]
    )


@pytest.mark.parametrize(
    ("read", "max_distance", "subject", "kind", "distance"),
    [
        ("粤B12345", 1.0, "s1", "exact", 0.0),
        ("粤812345", 1.0, "s1", "fuzzy", 0.5),
        ("粤B1234S", 1.0, "s1", "fuzzy", 0.5),
        ("粤B1234", 1.0, "s1", "fuzzy", 1.0),  # one character lost
        ("粤B123456", 1.0, "s1", "fuzzy", 1.0),  # one character too many
        ("粤BB8888", 1.0, "s2", "fuzzy", 0.5),
        ("皖A012345", 1.0, "s3", "fuzzy", 0.5),
        ("粤B12345", 0.0, "s1", "exact", 0.0),
        ("粤812345", 0.0, None, None, None),  # fuzzy disabled
        ("粤B12346", 0.5, None, None, None),  # a real substitution exceeds 0.5
        ("京C77777", 4.0, None, None, None),
        ("", 1.0, None, None, None),
    ],
)
def test_plate_index_match(
    read: str, max_distance: float, subject: str | None, kind: str | None, distance: float | None
) -> None:
    m = _index().match(read, max_distance)
    if subject is None:
        assert m is None
        return
    assert m is not None
    assert (m.subject_id, m.kind) == (subject, kind)
    assert m.distance == pytest.approx(distance)
    assert m.label == {"s1": "vendor one", "s2": "vendor two", "s3": "vendor three"}[subject]


def test_fuzzy_prefers_the_closest_plate() -> None:
    index = PlateIndex([("far", "", "粤B12399"), ("near", "", "粤B12388")])
    m = index.match("粤B123B8", 2.0)  # B/8 confusable to near (0.5), two edits to far
    assert m is not None
    assert (m.subject_id, m.plate, m.distance) == ("near", "粤B12388", 0.5)


def test_same_plate_on_two_subjects_is_deterministic() -> None:
    a = PlateIndex([("b", "", "粤B12345"), ("a", "", "粤B12345")]).match("粤B12345", 1.0)
    b = PlateIndex([("a", "", "粤B12345"), ("b", "", "粤B12345")]).match("粤B12345", 1.0)
    assert a is not None and b is not None
    assert a.subject_id == b.subject_id == "a"


def _random_plates(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    provinces = "京沪津渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新"
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    alnum = letters + "0123456789"
    out: set[str] = set()
    while len(out) < n:
        tail = "".join(rng.choice(alnum) for _ in range(rng.choice((5, 6))))
        out.add(rng.choice(provinces) + rng.choice(letters) + tail)
    return sorted(out)


def test_fuzzy_index_agrees_with_brute_force() -> None:
    plates = _random_plates(600, seed=7)
    index = PlateIndex((f"s{i}", "", p) for i, p in enumerate(plates))
    rng = random.Random(11)
    confusable = {"0": "D", "8": "B", "5": "S", "2": "Z", "B": "8", "D": "0"}
    for plate in rng.sample(plates, 120):
        chars = list(plate)
        pos = rng.randrange(1, len(chars))
        op = rng.choice(("conf", "sub", "del", "ins"))
        if op == "conf":
            chars[pos] = confusable.get(chars[pos], chars[pos])
        elif op == "sub":
            chars[pos] = rng.choice("0123456789")
        elif op == "del":
            del chars[pos]
        else:
            chars.insert(pos, rng.choice("ABC123"))
        read = "".join(chars)
        got = index.match(read, 1.0)
        brute = min((confusable_distance(read, p, limit=1.0), p) for p in plates)
        if brute[0] > 1.0:
            assert got is None
        else:
            assert got is not None
            assert got.distance == pytest.approx(brute[0])


def test_fuzzy_lookup_is_fast_at_100k_plates() -> None:
    plates = _random_plates(100_000, seed=3)
    index = PlateIndex((f"s{i}", "", p) for i, p in enumerate(plates))
    reads = [p[:3] + ("8" if p[3] == "B" else "B") + p[4:] for p in plates[:50]]
    start = time.perf_counter()
    for r in reads:
        index.match(r, 1.0)
    per_read = (time.perf_counter() - start) / len(reads)
    # measured ~1-2 ms on a 2-core gateway; a per-plate Python loop takes ~1 s
    assert per_read < 0.05
