"""Chinese licence-plate grammar: normalise OCR reads, validate them, mask them for logs.

Pure functions only. The formats follow GA 36 (motor-vehicle plates) as seen on
the road:

======================  =========================  ==========================
kind                    layout                     example
======================  =========================  ==========================
regular                 P L SSSSS (<= 2 letters)    粤B6R678
new_energy              P L [DF]XSSSS / SSSSS[DF]  粤BD01366, 粤B12345F
police                  P L SSSS 警                鄂F8888警
learner                 P L SSSS 学                京A1234学
trailer                 P L SSSS 挂                苏E1234挂
test / oversize         P L SSSS 试 / 超           沪A1234试
hk_macau                粤Z SSSS 港 / 澳            粤ZDJ76港
consulate               P L DDDD 领                沪A1707领
embassy                 使 DDDDDD (or DDDDDD 使)    使224424
armed_police            WJ P DDDD X  /  WJ DDDDD   WJ粤6788B
military                LL DDDDD (or 军区字 L DDDDD)  VA12345
civil_aviation          民航 SSSSS                  民航B9016
======================  =========================  ==========================

P = one of the 31 province abbreviations, L = issuing-authority letter, S = digit or
letter (never I or O), D = digit.
"""

from __future__ import annotations

import re
from typing import Final

from edge.vision.types import PlateGrammarResult

PROVINCES: Final = "京津沪渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新"
#: characters of hazardous-goods and similar signs that plate readers can emit
SIGN_CHARS: Final = frozenset("危险品")
#: old-style military region prefixes (北京, 南京, 广州, 沈阳, 成都, 兰州, 济南, 空军, 海军)
MILITARY_REGIONS: Final = "北南广沈成兰济空海"

PLATE_KINDS: Final = (
    "regular",
    "new_energy",
    "police",
    "learner",
    "trailer",
    "test",
    "oversize",
    "hk_macau",
    "consulate",
    "embassy",
    "armed_police",
    "military",
    "civil_aviation",
)

_P = f"[{PROVINCES}]"
_L = "[A-HJ-NP-Z]"  # issuing authority: no I, no O
_S = "[A-HJ-NP-Z0-9]"  # serial character: no I, no O
_SUFFIX_KIND: Final = {
    "学": "learner",
    "挂": "trailer",
    "试": "test",
    "超": "oversize",
}

# Order matters: the first pattern that matches names the kind.
_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("regular", re.compile(f"{_P}{_L}{_S}{{5}}")),
    ("new_energy", re.compile(f"{_P}{_L}[DF]{_S}[0-9]{{4}}")),
    ("new_energy", re.compile(f"{_P}{_L}[0-9]{{5}}[DF]")),
    # police plates keep the historic O authority letter in some provinces
    ("police", re.compile(f"{_P}[A-HJ-Z]{_S}{{4}}警")),
    *((kind, re.compile(f"{_P}{_L}{_S}{{4}}{sfx}")) for sfx, kind in _SUFFIX_KIND.items()),
    ("hk_macau", re.compile(f"粤Z{_S}{{4}}[港澳]")),
    ("consulate", re.compile(f"{_P}{_L}[0-9]{{4}}领")),
    ("embassy", re.compile("使[0-9]{6}|[0-9]{6}使")),
    ("armed_police", re.compile(f"WJ{_P}[0-9]{{4}}[0-9A-HJ-NP-Z消边通森金警电]|WJ[0-9]{{5}}")),
    ("military", re.compile(f"{_L}{{2}}[0-9]{{5}}|[{MILITARY_REGIONS}]{_L}[0-9]{{5}}")),
    ("civil_aviation", re.compile(f"民航{_S}{{5}}")),
)

_SEPARATORS: Final = frozenset(" \t\r\n.·•・‧∙。,，-_—–:：|/\\'\"`")
_FULLWIDTH_OFFSET: Final = 0xFEE0  # U+FF01..U+FF5E -> U+0021..U+007E
_SERIAL_FIX: Final = str.maketrans({"I": "1", "O": "0"})
_SPECIAL_SUFFIXES: Final = frozenset("警学挂试超港澳领使")


def _half_width(ch: str) -> str:
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - _FULLWIDTH_OFFSET)
    if code == 0x3000:
        return " "
    return ch


def _serial_start(text: str) -> int:
    """Index where the serial part begins (before it, I and O may be legitimate)."""
    if text.startswith("WJ"):
        return 3 if len(text) > 2 and text[2] in PROVINCES else 2
    if text.startswith("民航"):
        return 2
    if text.startswith("使"):
        return 1
    return 2


def normalise_plate(text: str) -> str:
    """Canonical form of a plate read: half-width, no separators, upper case, I/O fixed.

    A lone leading 民 becomes 民航 (civil aviation). I and O never occur in a serial
    (they read as 1 and 0), so in the serial part they become digits; the prefix
    (province, authority letter, WJ, military letters) keeps them, where the grammar
    decides.
    """
    chars = [_half_width(c) for c in text]
    cleaned = "".join(c for c in chars if c not in _SEPARATORS).upper()
    if cleaned.startswith("民") and not cleaned.startswith("民航"):
        # 民 never starts a plate on its own; CTC readers emit 民航 as one symbol
        cleaned = "民航" + cleaned[1:]
    start = _serial_start(cleaned)
    return cleaned[:start] + cleaned[start:].translate(_SERIAL_FIX)


def is_sign_text(text: str) -> bool:
    """True when a read is a hazardous-goods (or similar) sign, never a plate."""
    return any(c in SIGN_CHARS for c in text)


def _invalid(text: str, reason: str) -> PlateGrammarResult:
    return PlateGrammarResult(text=text, valid=False, kind=None, reason=reason)


_KNOWN_CHARS: Final = (
    frozenset(PROVINCES) | _SPECIAL_SUFFIXES | frozenset(f"民航{MILITARY_REGIONS}消边通森金电")
)


def _explain(text: str) -> str:
    """Why ``text`` matched no pattern; never quotes the text itself (it may be logged)."""
    n = len(text)
    if not all((c.isascii() and c.isalnum()) or c in _KNOWN_CHARS for c in text):
        return "contains characters that never appear on plates"
    head = text[:2]
    latin_head = head.isascii() and head.isalpha()
    special_head = text[0] in "使民" or text[0] in MILITARY_REGIONS or latin_head
    if text[0] not in PROVINCES and not special_head:
        return "first character is not one of the 31 province abbreviations nor WJ/使/民航/military"
    if text[0] in PROVINCES:
        return _explain_provincial(text, n)
    if text[-1] in "港澳":
        return "港/澳 cross-border plates start with 粤Z"
    return "does not match any plate format"


def _explain_provincial(text: str, n: int) -> str:
    if n < 2 or not ("A" <= text[1] <= "Z"):
        return "second character must be the issuing-authority letter A-Z"
    if text[1] in "IO" and not text.endswith("警"):
        return "issuing-authority letter cannot be I or O"
    if any(ch in _SPECIAL_SUFFIXES for ch in text[2:-1]):
        return "special character (警学挂领港澳使...) must be the last character"
    if text[-1] in "港澳" and not text.startswith("粤Z"):
        return "港/澳 cross-border plates start with 粤Z"
    if n not in (7, 8):
        return f"a plate has 7 characters (8 for new energy), got {n}"
    if n == 8 and text[-1] not in _SPECIAL_SUFFIXES:
        return (
            "an 8-character new-energy plate needs D/F, a letter or digit and 4 digits (small) "
            "or 5 digits and D/F (large)"
        )
    return "does not match any plate format"


def validate_plate(text: str) -> PlateGrammarResult:
    """Normalise ``text`` and check it against every plate format (see module doc)."""
    norm = normalise_plate(text)
    if not norm:
        return _invalid(norm, "empty read")
    if is_sign_text(norm):
        return _invalid(norm, "hazardous-goods sign (危险品), not a plate")
    for kind, pattern in _PATTERNS:
        if pattern.fullmatch(norm):
            if kind == "regular" and sum("A" <= c <= "Z" for c in norm[2:]) > 2:
                return _invalid(norm, "a regular serial has at most 2 letters")
            return PlateGrammarResult(text=norm, valid=True, kind=kind, reason=None)
    return _invalid(norm, _explain(norm))


def mask_plate(text: str) -> str:
    """Log-safe form: province and letter, stars, last two characters ("粤H·***45")."""
    norm = normalise_plate(text)
    if len(norm) <= 4:
        return "*" * max(len(norm), 1)
    return f"{norm[:2]}·{'*' * (len(norm) - 4)}{norm[-2:]}"
