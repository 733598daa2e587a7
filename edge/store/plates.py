"""Plate text as the store indexes it: normalised text and a confusable skeleton.

OCR confuses some characters (0/D/Q/O, 8/B, 2/Z, ... see edge.watchlist.plate_index).
The skeleton maps each confusable group to one representative, so "粤B8O5Z2" and
"粤B8052Z" (two reads of one plate) land on the same indexed key: one database equality
lookup finds every confusable-equivalent read without scanning. Reads that differ by a
non-confusable character are not found by the skeleton (that is what exact watchlist
matching at the gateway is for); results are ranked by ``confusable_distance``.
"""

from __future__ import annotations

from edge.vision.plate_grammar import normalise_plate
from edge.watchlist.plate_index import char_class, confusable_distance

__all__ = ["confusable_distance", "normalise_plate", "plate_skeleton"]


def plate_skeleton(text: str) -> str:
    """Normalised text with every confusable character replaced by its group key."""
    return "".join(char_class(c) for c in normalise_plate(text))
