"""How an SMS is encoded and cut into parts (issue 6): GSM 03.38's 7-bit alphabet where every character is in
it, UCS-2 otherwise (any Chinese text). One message holds 160 septets or 70 UCS-2 characters; a longer one is
sent as parts of 153 septets or 67 UCS-2 characters (the rest carries the header that joins them), and no
part may end inside a character that takes two units (an emoji's surrogate pair, a GSM escape such as €).
An incoming text is kept without control characters (`printable`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GSM7, UCS2 = "gsm7", "ucs2"
_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
          "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_EXTENDED = "^{}\\[~]|€\f"  # an escape, then the character: two septets
SINGLE = {GSM7: 160, UCS2: 70}
PART = {GSM7: 153, UCS2: 67}
MOST_PARTS = 255  # the concatenation header counts parts in one byte
LONGEST_TEXT = MOST_PARTS * PART[GSM7]  # the longest text one (concatenated) SMS can carry
# C0 control characters but tab, line feed and carriage return: PostgreSQL's text refuses NUL, and none of the
# others is anything a citizen typed (a phone or a gateway's garbage).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Encoded:
    coding: str
    parts: list[str]

    @property
    def units(self) -> int:
        return sum(_units(part, self.coding) for part in self.parts)


def coding_of(text: str) -> str:
    return GSM7 if all(char in _BASIC or char in _EXTENDED for char in text) else UCS2


def split(text: str) -> Encoded:
    """The text's coding and its parts, each within a part's size, joined again they are the text."""
    coding = coding_of(text)
    if _units(text, coding) <= SINGLE[coding]:
        return Encoded(coding, [text])
    parts, current, used = [], "", 0
    for char in text:
        size = _units(char, coding)
        if used + size > PART[coding]:
            parts.append(current)
            current, used = "", 0
        current += char
        used += size
    parts.append(current)
    return Encoded(coding, parts)


def _units(text: str, coding: str) -> int:
    if coding == GSM7:
        return sum(2 if char in _EXTENDED else 1 for char in text)
    return len(text.encode("utf-16-be")) // 2


def printable(text: str) -> str:
    """The text without control characters (tab and line breaks kept), so that any database stores it."""
    return _CONTROL.sub("", text)
