"""The one privacy filter every log record passes before it is written.

Plate strings are masked wherever they appear (message, arguments, extra fields,
exception text); fields whose name says they carry biometric data, pixels, secrets or
personal names are replaced by ``[redacted]``; binary values (bytes, numpy arrays)
are never serialised at all. The filter is attached to every handler (not to a
logger), so records propagated from any module are covered.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np

REDACTED = "[redacted]"

#: the 31 province abbreviations of mainland plates
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_AZ = "A-Za-zＡ-Ｚａ-ｚ"
_AN = "A-Za-z0-9Ａ-Ｚａ-ｚ０-９"
_SEP = r"[·•・.\-\s_]?"
_SUFFIX = "挂学警港澳领使试超"

# Civil plates: province + letter + 5-6 alphanumerics (new-energy has 6), with an
# optional special suffix. Over-masking is harmless; missing a plate is a leak.
_CIVIL = re.compile(rf"([{PROVINCES}][{_AZ}]){_SEP}([{_AN}]{{4,6}}[{_AN}{_SUFFIX}]?)")
# Armed police: WJ + optional province + 4-6 alphanumerics (old and new forms).
_WJ = re.compile(rf"(?<![{_AN}])([Ww][Jj]){_SEP}([{PROVINCES}]?{_SEP}[{_AN}]{{4,6}})")
# Embassy / consulate: 使 + 6 digits, 6 digits + 使, 5-6 alphanumerics + 领.
_EMBASSY = re.compile(r"(使)" + _SEP + r"(\d{3}" + _SEP + r"\d{3})")
_EMBASSY_SUFFIX = re.compile(rf"(?<![{_AN}])()([{_AN}]{{5,6}}{_SEP}[使领])")
# Military: two capital letters + 5 digits, as a standalone token.
_MILITARY = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})" + _SEP + r"(\d{5})(?![A-Za-z0-9])")

_SENSITIVE_KEY_PARTS = (
    "embedding",
    "vector",
    "template",
    "image",
    "img",
    "pixel",
    "bytes",
    "jpeg",
    "jpg",
    "crop",
    "photo",
    "token",
    "password",
    "passwd",
    "secret",
    "credential",
    "private",
    "authorization",
    "cookie",
    "label",
    "name",
)
_MAX_ITEMS = 50
_MAX_DEPTH = 4


def _mask(m: re.Match[str]) -> str:
    head, tail = m.group(1), m.group(2)
    compact = re.sub(r"[·•・.\-\s_]", "", tail)
    keep = compact[-2:] if len(compact) > 3 else ""
    return f"{head}·{'*' * (len(compact) - len(keep))}{keep}"


def mask_plates(text: str) -> str:
    """Mask every plate-like substring, e.g. ``粤B12345`` -> ``粤B·***45``."""
    for pattern in (_WJ, _CIVIL, _EMBASSY, _EMBASSY_SUFFIX, _MILITARY):
        text = pattern.sub(_mask, text)
    return text


def is_sensitive_key(key: str) -> bool:
    k = key.lower()
    return any(part in k for part in _SENSITIVE_KEY_PARTS)


def sanitize(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, privacy-safe copy of ``value`` (plates masked, binaries dropped)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return mask_plates(value)
    if isinstance(value, bytes | bytearray | memoryview | np.ndarray):
        return REDACTED
    if isinstance(value, np.generic):
        return value.item() if value.size == 1 and not isinstance(value, np.bytes_) else REDACTED
    if isinstance(value, enum.Enum):
        return sanitize(value.value, depth)
    if isinstance(value, PurePath):
        return mask_plates(str(value))
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {mask_plates(str(value))}"
    if depth >= _MAX_DEPTH:
        return f"<{type(value).__name__}>"
    if isinstance(value, Mapping):
        return _sanitize_mapping(value, depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _sanitize_mapping(fields, depth)
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)[:_MAX_ITEMS]
        return [sanitize(v, depth + 1) for v in items]
    # Unknown objects may render embeddings or plates in their repr: type name only.
    return f"<{type(value).__name__}>"


def _sanitize_mapping(value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, (k, v) in enumerate(value.items()):
        if i >= _MAX_ITEMS:
            out["…"] = f"{len(value) - _MAX_ITEMS} more"
            break
        key = mask_plates(str(k))
        out[key] = REDACTED if is_sensitive_key(key) else sanitize(v, depth + 1)
    return out


#: attributes every LogRecord has; anything else came from ``extra=``
RESERVED_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RedactionFilter(logging.Filter):
    """Rewrites a record in place so no formatter can print a secret from it.

    Idempotent: a record passing several handlers is rewritten once.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_edge_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg = mask_plates(message)
        record.args = None
        for key in [k for k in vars(record) if k not in RESERVED_ATTRS]:
            if key.startswith("_"):
                continue
            value = getattr(record, key)
            setattr(record, key, REDACTED if is_sensitive_key(key) else sanitize(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_plates(record.exc_text)
            # The traceback text is final; keeping exc_info would let a formatter
            # re-render the unmasked exception message.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = mask_plates(record.stack_info)
        record._edge_redacted = True
        return True
