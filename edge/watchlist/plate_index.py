"""Plate watchlist index: exact lookup, then fuzzy matching over OCR-confusable characters.

The fuzzy distance is a weighted edit distance: substituting characters that plate
readers confuse (0/D/Q/O, 8/B, 2/Z, 5/S, 1/I, 6/G, 7/T, 4/A) costs 0.5, any other
substitution, insertion or deletion 1.0. Province characters have no confusable
partner, so a different province always costs a full edit.

Fuzzy search is fast at 100k plates without a per-plate Python loop: plates are
bucketed by length and each bucket keeps a character-class histogram (one column per
class). Every edit changes the histogram difference by at most 2 per unit of cost, so
``max(|length difference|, histogram difference / 2)`` is a lower bound of the
distance; only the few plates under the bound get the exact dynamic programme.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from edge.watchlist.types import PlateMatch, WatchlistSnapshot

CONFUSABLE_GROUPS: tuple[str, ...] = ("0DQO", "8B", "2Z", "5S", "1I", "6G", "7T", "4A")
CONFUSABLE_COST = 0.5
EDIT_COST = 1.0
_EPS = 1e-9

_CLASS_OF: dict[str, str] = {ch: group[0] for group in CONFUSABLE_GROUPS for ch in group}


def char_class(ch: str) -> str:
    """Representative of ``ch``'s confusable group (``ch`` itself when it has none)."""
    return _CLASS_OF.get(ch, ch)


def substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return CONFUSABLE_COST if char_class(a) == char_class(b) else EDIT_COST


def confusable_distance(a: str, b: str, limit: float | None = None) -> float:
    """Weighted edit distance between two plate strings.

    With ``limit``, stop early and return a value above ``limit`` as soon as every
    alignment already costs more (the exact value above the limit is not needed).
    """
    if a == b:
        return 0.0
    prev = [float(j) * EDIT_COST for j in range(len(b) + 1)]
    for i, ca in enumerate(a, start=1):
        cur = [float(i) * EDIT_COST]
        for j, cb in enumerate(b, start=1):
            cur.append(
                min(
                    prev[j] + EDIT_COST,
                    cur[j - 1] + EDIT_COST,
                    prev[j - 1] + substitution_cost(ca, cb),
                )
            )
        if limit is not None and min(cur) > limit + _EPS:
            return min(cur)
        prev = cur
    return prev[-1]


@dataclass(slots=True)
class _Bucket:
    """Plates of one length: parallel lists plus a class histogram (classes x plates)."""

    plates: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    hist: NDArray[np.uint8] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.uint8))


class PlateIndex:
    """Normalised watchlist plates; ``entries`` are (subject_id, label, plate) triples.

    Pure in-memory structure: building it is the only work the constructor does.
    """

    def __init__(self, entries: Iterable[tuple[str, str, str]]) -> None:
        self._exact: dict[str, tuple[str, str]] = {}
        self._labels: dict[str, str] = {}
        by_len: dict[int, _Bucket] = {}
        for subject_id, label, plate in sorted(entries, key=lambda e: (e[2], e[0])):
            self._labels[subject_id] = label
            if plate in self._exact:
                continue  # same plate on two subjects: the first (by id) wins, deterministically
            self._exact[plate] = (subject_id, label)
            bucket = by_len.setdefault(len(plate), _Bucket())
            bucket.plates.append(plate)
            bucket.subjects.append(subject_id)
        self._classes: dict[str, int] = {}
        for bucket in by_len.values():
            for plate in bucket.plates:
                for ch in plate:
                    self._classes.setdefault(char_class(ch), len(self._classes))
        for bucket in by_len.values():
            bucket.hist = self._histograms(bucket.plates)
        self._buckets = by_len

    @classmethod
    def from_snapshot(cls, snapshot: WatchlistSnapshot) -> PlateIndex:
        labels = snapshot.labels()
        return cls((sid, labels.get(sid, ""), plate) for sid, plate in snapshot.plates)

    def __len__(self) -> int:
        return len(self._exact)

    def _histograms(self, plates: list[str]) -> NDArray[np.uint8]:
        hist = np.zeros((len(self._classes), len(plates)), dtype=np.uint8)
        for col, plate in enumerate(plates):
            for ch in plate:
                hist[self._classes[char_class(ch)], col] += 1
        return hist

    def match(self, text: str, max_distance: float) -> PlateMatch | None:
        """Exact match first; otherwise the closest plate within ``max_distance``."""
        hit = self._exact.get(text)
        if hit is not None:
            return PlateMatch(hit[0], hit[1], text, "exact", 0.0)
        if max_distance <= 0 or not text:
            return None
        best: tuple[float, str, str] | None = None
        for plate, subject_id in self._candidates(text, max_distance):
            d = confusable_distance(text, plate, limit=max_distance)
            if d <= max_distance + _EPS and (best is None or (d, plate) < (best[0], best[1])):
                best = (d, plate, subject_id)
        if best is None:
            return None
        d, plate, subject_id = best
        return PlateMatch(subject_id, self._labels[subject_id], plate, "fuzzy", d)

    def _candidates(self, text: str, max_distance: float) -> list[tuple[str, str]]:
        """Plates whose distance lower bound is within ``max_distance``."""
        query: dict[int, int] = {}
        unknown = 0
        for ch in text:
            idx = self._classes.get(char_class(ch))
            if idx is None:
                unknown += 1  # a class no watchlist plate has never overlaps
            else:
                query[idx] = query.get(idx, 0) + 1
        reach = int(max_distance / EDIT_COST + _EPS)
        out: list[tuple[str, str]] = []
        for length in range(max(1, len(text) - reach), len(text) + reach + 1):
            bucket = self._buckets.get(length)
            if bucket is None:
                continue
            overlap = np.zeros(len(bucket.plates), dtype=np.int32)
            for idx, count in query.items():
                overlap += np.minimum(bucket.hist[idx], count)
            # sum |h - q| over classes = len(plate) + len(text) - 2 * overlap
            diff = length + len(text) - 2 * overlap
            bound = np.maximum(diff * 0.5 * EDIT_COST, abs(length - len(text)) * EDIT_COST)
            for i in np.flatnonzero(bound <= max_distance + _EPS):
                out.append((bucket.plates[i], bucket.subjects[i]))
        return out
