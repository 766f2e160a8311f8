"""What a voicemail's transcript says that a draft work order needs: the phone numbers and the addresses a
caller dictated (issue 5), found in the text a speech recogniser writes.

A recogniser writes digits as characters as often as as figures (幺三八 for 138, 两 for 2), and callers say
an address from the large to the small: district, road, number, estate, building, unit, room. Both are
found with patterns alone; nothing here needs a word segmenter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPOKEN_DIGITS = str.maketrans({"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2",
                               "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "拐": "7", "八": "8",
                               "九": "9", "勾": "9"})
# A run of spoken or written digits, spaces and dashes between them allowed (a caller pauses between groups).
_DIGIT_RUN = re.compile(r"[0-9零〇洞一幺二两三四五六七拐八九勾](?:[\s\-－]*[0-9零〇洞一幺二两三四五六七拐八九勾])*")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")

# A place name's characters: Chinese, but not the little words around it (门口的路灯 holds no road).
_PLACE = r"[^\W\d_a-zA-Z的了是在我你他她们和与就也还都很要有没不]{1,8}?"
_NUMBER = r"[0-9零一二两三四五六七八九十百]+"
_ADDRESS = re.compile(
    rf"(?:{_PLACE}(?:省|市))?(?:{_PLACE}(?:区|县))?(?:{_PLACE}(?:街道|镇|乡))?"
    rf"{_PLACE}(?:大街|大道|大路|路|街|巷|胡同|道)(?:{_NUMBER}号)?"
    rf"(?:{_PLACE}(?:小区|社区|花园|公寓|大厦|村))?(?:{_NUMBER}(?:栋|号楼|幢))?(?:{_NUMBER}单元)?(?:{_NUMBER}(?:室|号))?"
    rf"|{_PLACE}(?:小区|社区|花园|公寓|大厦)(?:{_NUMBER}(?:栋|号楼|幢))?(?:{_NUMBER}单元)?(?:{_NUMBER}(?:室|号))?"
)
# Words a caller says just before an address, which the place pattern would otherwise swallow.
_LEAD_INS = ("我家在", "我住在", "住在", "地址是", "位置在", "就在", "在")


@dataclass(frozen=True)
class Found:
    text: str  # as normalised: digits as figures, an address as said
    start: int  # where it begins in the transcript
    end: int


def phone_numbers(transcript: str) -> list[Found]:
    """Mobile (11 digits from 13–19) and landline numbers (area code with 0, then 7–8 digits), in the order
    said, each once; spoken digits read as figures."""
    found: dict[str, Found] = {}
    for run in _DIGIT_RUN.finditer(transcript):
        digits = re.sub(r"[\s\-－]", "", run.group()).translate(SPOKEN_DIGITS)
        for pattern in (_MOBILE, _LANDLINE):
            for match in pattern.finditer(digits):
                found.setdefault(match.group(), Found(match.group(), run.start(), run.end()))
    return sorted(found.values(), key=lambda item: item.start)


def addresses(transcript: str) -> list[Found]:
    """The addresses said, longest reading first where two overlap, without the words leading into them."""
    found: list[Found] = []
    for match in _ADDRESS.finditer(transcript):
        text, start = match.group(), match.start()
        for lead_in in _LEAD_INS:
            if text.startswith(lead_in) and len(text) > len(lead_in) + 1:
                text, start = text[len(lead_in):], start + len(lead_in)
                break
        found.append(Found(text, start, match.end()))
    return found
