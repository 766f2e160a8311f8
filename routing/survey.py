"""The satisfaction survey of a return visit (回访), by telephone keys or an SMS reply, and what an answer
leads to (issue 6).

Two questions: was the problem solved (1 yes, 2 no), and how satisfied is the citizen, on the five-level 好差评
scale (1 非常满意 … 5 非常不满意). By SMS the citizen replies with the two digits, or in words (已解决，满意).
A dissatisfied answer leads to re-handling (重办) when the problem is not solved, and to a review by the
centre when it is (the department may then appeal the rating); any satisfied level closes the loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

RATINGS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
RATING_KEYS = {str(index + 1): rating for index, rating in enumerate(RATINGS)}
RATING_WORDS = {"非常满意": "very_satisfied", "很满意": "very_satisfied", "基本满意": "basically_satisfied",
                "非常不满意": "very_dissatisfied", "很不满意": "very_dissatisfied", "不满意": "dissatisfied",
                "满意": "satisfied"}
SATISFIED = frozenset(RATINGS[:3])  # counted as satisfied in the satisfaction rate
SOLVED_KEYS = {"1": True, "2": False}
SOLVED_WORDS = {"已解决": True, "解决了": True, "没解决": False, "未解决": False, "没有解决": False}

_FULL_WIDTH = str.maketrans("０１２３４５６７８９，。、；", "0123456789,.,;")
_TWO_DIGITS = re.compile(r"^\s*([12])\s*[,.;\s]?\s*([1-5])\s*$")


class MalformedReply(ValueError):
    """A reply that answers neither question; says what was expected."""


@dataclass(frozen=True)
class Answer:
    solved: bool | None
    rating: str | None


def from_sms(text: str) -> Answer:
    """A citizen's SMS reply: two digits (`14`, `1 4`, `１，４`) or words (`已解决，满意`)."""
    cleaned = text.translate(_FULL_WIDTH).strip()
    digits = _TWO_DIGITS.match(cleaned)
    if digits:
        return Answer(SOLVED_KEYS[digits.group(1)], RATING_KEYS[digits.group(2)])
    answer = Answer(_longest_word(cleaned, SOLVED_WORDS), _longest_word(cleaned, RATING_WORDS))
    if answer.solved is None and answer.rating is None:
        raise MalformedReply(f"reply {text[:40]!r} answers neither question: expected two digits (1 solved / 2 not, "
                             "then 1 very satisfied … 5 very dissatisfied) or words such as 已解决，满意")
    return answer


def _longest_word(text: str, words: Mapping[str, T]) -> T | None:
    """The meaning of the longest word found (不满意 holds 满意; 非常不满意 holds both)."""
    found = [word for word in words if word in text]
    return words[max(found, key=len)] if found else None


def consequence(answer: Answer) -> str:
    """What the order goes on to: `evaluate` (the loop closes), `rehandle` (重办: not solved and dissatisfied)
    or `review` (solved, yet dissatisfied: the centre looks at it; the department may appeal)."""
    if answer.rating is None or answer.rating in SATISFIED:
        return "evaluate"
    return "rehandle" if answer.solved is False else "review"


def satisfaction_rate(ratings: Mapping[str, int]) -> float | None:
    """Satisfied answers (the top three levels) over all answers; None when nobody answered."""
    answered = sum(ratings.get(rating, 0) for rating in RATINGS)
    return sum(ratings.get(rating, 0) for rating in SATISFIED) / answered if answered else None
