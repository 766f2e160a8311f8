"""Citizens' phone numbers in one form: a campaign's list, an SMS sender, a caller id, a do-not-contact entry
must compare equal however they were written (+86 138…, 0086-138…, 138 0013 8000, 010-12345678)."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0[1-9]\d{1,2}\d{7,8}")


class BadNumber(ValueError):
    """Not a Chinese mobile or landline number; says what was wrong."""


def normalise(number: str) -> str:
    """The national form: 11-digit mobile, or a landline with its area code (0…), digits only."""
    international, digits = national_digits(number)
    if not digits.isdigit():
        raise BadNumber(f"{number!r} holds more than digits")
    if international:
        raise BadNumber(f"{number!r} is an international number (+ or 00 and another country's code)")
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return digits
    if digits.startswith("1"):
        raise BadNumber(f"{number!r} is not an 11-digit mobile number (13x–19x)")
    if digits.startswith("0"):
        raise BadNumber(f"{number!r} is not a landline with its area code (0 + 2–3 digits, then 7–8)")
    raise BadNumber(f"{number!r} is neither a mobile number nor a landline with its area code")


def national_digits(number: str) -> tuple[bool, str]:
    """(whether it is another country's, the digits): separators, full-width digits and China's +86, 0086 or
    86 are taken off; another country's number comes without its + or 00."""
    digits = _SEPARATORS.sub("", number.strip().translate(_FULL_WIDTH))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return False, _with_trunk_zero(digits[len(prefix):])
    if digits.startswith("86") and len(digits) == 13:
        return False, digits[2:]
    for prefix in ("+", "00"):
        if digits.startswith(prefix):
            return True, digits[len(prefix):]
    return False, digits


def _with_trunk_zero(digits: str) -> str:
    """After +86 a landline drops its area code's 0 (+86 10 8765 4321): put back, it is 010 87654321."""
    if _LANDLINE.fullmatch("0" + digits) and not _MOBILE.fullmatch(digits):
        return "0" + digits
    return digits


def is_mobile(number: str) -> bool:
    """Whether an SMS can reach it (a landline cannot)."""
    return bool(_MOBILE.fullmatch(number))


_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋－（）　", "0123456789+-() ")
