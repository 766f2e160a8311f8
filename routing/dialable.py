"""Which numbers the hotline may call out to: a table of number kinds, and the kinds the settings allow.

A callback dials the caller id, a survey or campaign dials a number someone typed: either can be an
international premium number (toll fraud), an emergency service (a false alarm) or a paid service code.
Every outbound call is classified here first; only the kinds in `outbound.allowed_kinds` (mobile numbers
and the city's own fixed lines by default) are dialled, anything else is recorded and shown, never dialled.
Pure logic: the number in, its kind and the national digits to dial out.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from routing.numbers import national_digits


class Kind(StrEnum):
    MOBILE = "mobile"  # 11 digits, 13x–19x
    CITY_FIXED = "city_fixed"  # a fixed line of the centre's city, with or without its area code
    OTHER_FIXED = "other_fixed"  # a fixed line of another city (long distance)
    EMERGENCY = "emergency"  # 110, 119, 120, 122 and their SMS forms: never called back, a false alarm
    SERVICE = "service"  # short codes and shared-cost numbers: 10086, 12345, 95588, 400…
    PREMIUM = "premium"  # paid information lines, carrier prefixes, premium international networks
    INTERNATIONAL = "international"  # any other country
    MALFORMED = "malformed"  # not a number at all


DEFAULT_ALLOWED = (Kind.MOBILE, Kind.CITY_FIXED)
# Chinese labels where a refused number is shown (the callback list).
LABELS = {
    Kind.MOBILE: "手机", Kind.CITY_FIXED: "本地固话", Kind.OTHER_FIXED: "外地固话", Kind.EMERGENCY: "紧急号码",
    Kind.SERVICE: "服务短号", Kind.PREMIUM: "声讯/付费号码", Kind.INTERNATIONAL: "国际号码", Kind.MALFORMED: "号码无效",
}

EMERGENCY_NUMBERS = frozenset({"110", "119", "120", "122", "12110", "12119", "12120", "12122", "999"})
# National prefixes (after the country code is taken off) that reach paid lines: 声讯台 160/168, the 1259x
# value-added codes, the 1900 block, and the IP long-distance prefixes (179xx + any number, abroad too).
PREMIUM_PREFIXES = ("160", "168", "1259", "1900", "1790", "1791", "1795", "1796")
# Country codes of international premium and satellite networks (+881 satellite, +882/+883 international
# networks, +979 international premium rate, +808 shared cost).
PREMIUM_COUNTRIES = ("881", "882", "883", "979", "808")
SHARED_COST = re.compile(r"[48]00\d{7}")  # 400/800 numbers: not a citizen's phone
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LOCAL = re.compile(r"[2-9]\d{6,7}")  # a fixed line dialled without its area code: 7–8 digits, not 0 or 1 first
_SUBSCRIBER = re.compile(r"[1-9]\d{6,7}")  # after an area code: 7–8 digits
_SHORT = re.compile(r"\d{3,6}")
MAX_DIGITS = 15  # E.164


@dataclass(frozen=True)
class Classified:
    kind: Kind
    digits: str  # what is dialled: the national form (the area code kept), 00 and the number for abroad


def classify(number: str, area_code: str) -> Classified:
    """The kind of `number` for a centre whose city has `area_code` (digits, without the leading 0)."""
    international, digits = national_digits(number)
    if not digits.isdigit() or len(digits) > MAX_DIGITS:
        return Classified(Kind.MALFORMED, digits)
    if international:  # dialled from China with 00 (should the settings ever allow it)
        premium = digits.startswith(PREMIUM_COUNTRIES)
        return Classified(Kind.PREMIUM if premium else Kind.INTERNATIONAL, "00" + digits)
    return Classified(_national_kind(digits, area_code), digits)


def _national_kind(digits: str, area_code: str) -> Kind:
    if digits in EMERGENCY_NUMBERS:
        return Kind.EMERGENCY
    if digits.startswith(PREMIUM_PREFIXES):
        return Kind.PREMIUM
    if _MOBILE.fullmatch(digits):
        return Kind.MOBILE
    if SHARED_COST.fullmatch(digits):
        return Kind.SERVICE
    if digits.startswith("0"):
        return _fixed_line_kind(digits[1:], area_code)
    if _LOCAL.fullmatch(digits):
        return Kind.CITY_FIXED  # a local caller id often comes without the area code
    return Kind.SERVICE if _SHORT.fullmatch(digits) else Kind.MALFORMED


def _fixed_line_kind(after_zero: str, area_code: str) -> Kind:
    """0 + area code (10, 2x: two digits; the others three) + the subscriber's 7–8 digits."""
    area = after_zero[:2] if after_zero[:1] in ("1", "2") else after_zero[:3]
    local = after_zero[len(area):]
    if local in EMERGENCY_NUMBERS:
        return Kind.EMERGENCY  # 010-110 still reaches the police
    if not _SUBSCRIBER.fullmatch(local):
        return Kind.SERVICE if _SHORT.fullmatch(local) else Kind.MALFORMED
    return Kind.CITY_FIXED if area == area_code else Kind.OTHER_FIXED


def allowed(classified: Classified, kinds: Collection[str]) -> bool:
    return classified.kind in kinds
