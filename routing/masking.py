"""Masking a citizen's personal data wherever it is shown to people who need no more than the gist: the public
Open311 view, lists, and the history of a confidential order as a department sees it.

One table of rules for the numbers (phone numbers in every written form, resident ID numbers), and names: the
order's own citizen name wherever it appears, and a name introduced as one (姓名：王小明, 我叫王小明, name: Anna).
A masked value keeps enough to tell two apart (138****5678, 王**), never enough to call or find the person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

STAR = "*"
_SEP = r"[\s\-]?"  # what people type between digit groups: a space or a dash
_CC = rf"(?P<prefix>(?:\+|00)?86{_SEP})"  # China's country code, kept as written


@dataclass(frozen=True)
class NumberRule:
    """A personal number in free text: the digits of `core` are starred but for the first `head` and last `tail`."""

    kind: str
    pattern: re.Pattern[str]
    head: int
    tail: int

    def mask(self, digits: str) -> str:
        return _star_digits(digits, self.head, self.tail)


def _bounded(body: str) -> re.Pattern[str]:
    """Whole numbers only: never the middle of a longer run of digits (an order number, a masked number)."""
    return re.compile(rf"(?<![\d*]){body}(?![\dXx*])")


# Applied in this order; an ID number is masked before its digits could be read as a phone number.
NUMBER_RULES = (
    NumberRule("resident ID (18)", _bounded(rf"(?P<core>[1-9]\d{{5}}{_SEP}(?:18|19|20)\d{{2}}[01]\d[0-3]\d{_SEP}"
                                            rf"\d{{3}}[\dXx])"), 3, 2),
    NumberRule("resident ID (15)", _bounded(r"(?P<core>[1-9]\d{14})"), 3, 2),
    NumberRule("mobile", _bounded(rf"{_CC}?(?P<core>1[3-9]\d(?:{_SEP}\d){{8}})"), 3, 4),
    NumberRule("fixed line", _bounded(rf"{_CC}?(?P<core>(?:\(0\d{{2,3}}\)|（0\d{{2,3}}）|0\d{{2,3}}){_SEP}"
                                      rf"[1-9]\d{{2,3}}{_SEP}\d{{4}})"), 3, 2),
    NumberRule("fixed line, international form", _bounded(rf"{_CC}(?P<core>[1-9]\d(?:{_SEP}\d){{7,9}})"), 2, 2),
    NumberRule("local fixed line", _bounded(rf"(?P<core>[2-9]\d{{2,3}}{_SEP}\d{{4}})"), 0, 2),
)

# A name introduced as one: 姓名：王小明 / 联系人 李四 / 我叫张三 / my name is Anna Li / name: Anna.
_CJK_NAME = r"[\u3400-\u9fff·]{2,3}"
NAME_PATTERNS = (
    re.compile(rf"(?:姓名|名字|联系人|本人|我叫|申请人|投诉人|反映人)\s*[：:是为]?\s*(?P<name>{_CJK_NAME})"),
    re.compile(r"(?i:\bmy name is|\bname\s*[:：])\s*(?P<name>[A-Za-z][\w'\-]*(?:\s+[A-Z][\w'\-]*)?)"),
)


def mask_number(number: str | None) -> str | None:
    """138****5678: enough to tell two callers apart, not enough to call them."""
    if not number:
        return number
    if len(number) <= 4:
        return STAR * len(number)
    keep_head = 3 if len(number) >= 11 else max(0, len(number) - 8)
    return number[:keep_head] + STAR * (len(number) - keep_head - 4) + number[-4:]


def mask_name(name: str) -> str:
    """王** / A*** L*: the first letter of each word (a Chinese name is one word) and its length."""
    return " ".join(word[:1] + STAR * (len(word) - 1) for word in name.split(" "))


IDENTITY_RULES = NUMBER_RULES[:2]  # resident ID numbers: whoever they are, a department rarely needs them


def mask_text(text: str | None, names: Iterable[str | None] = (), numbers: Iterable[str | None] = (),
              rules: tuple[NumberRule, ...] = NUMBER_RULES) -> str | None:
    """The text with the citizen's known `names` (the order's and any it had before) and `numbers` masked
    wherever they appear, and every name introduced as one and every number the `rules` find: all personal
    numbers for the public; a department on a confidential order passes IDENTITY_RULES, so that the other
    party's phone in a 举报 stays readable while the citizen's own number does not."""
    if not text:
        return text
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    for pattern in NAME_PATTERNS:
        text = pattern.sub(_masked_group("name", mask_name), text)
    for rule in (*_known_numbers(numbers), *rules):
        text = rule.pattern.sub(_masked_group("core", rule.mask), text)
    return text


def _known_numbers(numbers: Iterable[str | None]) -> list[NumberRule]:
    """A known number however it is written (its digits with spaces or dashes between, with or without +86),
    masked as mask_number masks it."""
    found = []
    for number in numbers:
        digits = re.sub(r"\D", "", number or "")
        digits = digits[2:] if number and number.lstrip().startswith("+86") else digits
        if len(digits) >= 5:
            found.append(NumberRule("known number", _bounded(rf"{_CC}?(?P<core>{_SEP.join(digits)})"),
                                    3 if len(digits) >= 11 else 0, 4))
    return found


def _masked_group(group: str, mask: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    """A substitution that masks one group of the match and keeps the rest as written."""
    def replace(match: re.Match[str]) -> str:
        whole, (start, end) = match.start(), match.span(group)
        return match.group()[:start - whole] + mask(match.group(group)) + match.group()[end - whole:]

    return replace


def _star_digits(text: str, head: int, tail: int) -> str:
    """Every digit starred but the first `head` and the last `tail`; spaces, dashes and brackets stay."""
    count = sum(char.isdigit() or char in "Xx" for char in text)
    seen, out = 0, []
    for char in text:
        if char.isdigit() or char in "Xx":
            seen += 1
            out.append(char if seen <= head or seen > count - tail else STAR)
        else:
            out.append(char)
    return "".join(out)
