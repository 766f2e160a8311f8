"""The dispatch catalogue (派单目录): which department handles which topic, in how many working days, and
the suggestion an agent (or a transcribed voicemail) gets from the words of a request.

Entries are data (the centre adjusts its catalogue hundreds of times: Beijing over 300). A suggestion
ranks entries by the keywords found in the text, longer keywords weighing more (路灯不亮 says more
than 灯); Chinese needs no word segmentation for this, since a keyword is matched as a substring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

DEFAULT_DAYS = {"consultation": 3, "help": 3, "complaint": 5, "report": 5, "suggestion": 5, "praise": 5}


@dataclass(frozen=True)
class Entry:
    code: str  # e.g. 0301: the catalogue's own code
    topic: str  # 路灯故障
    department: str  # 城管局
    keywords: tuple[str, ...]
    days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DAYS))  # by order type, working days
    count_from: str = "dispatch"  # or "sign": when the department's clock starts
    emergency: bool = False  # due the same day (a burst main, a gas smell)

    def working_days(self, order_type: str) -> int:
        return 0 if self.emergency else self.days.get(order_type, DEFAULT_DAYS.get(order_type, 5))


@dataclass(frozen=True)
class Suggestion:
    entry: Entry
    score: int
    matched: tuple[str, ...]


def suggest(text: str, catalogue: Sequence[Entry], limit: int = 3) -> list[Suggestion]:
    """The best entries for the text, best first; none when no keyword is found (no guess is better than a
    wrong department: a wrong dispatch costs a return)."""
    found = []
    for entry in catalogue:
        matched = tuple(keyword for keyword in entry.keywords if keyword and keyword in text)
        if matched:
            found.append(Suggestion(entry, sum(len(keyword) for keyword in matched), matched))
    found.sort(key=lambda s: (-s.score, s.entry.code))
    return found[:limit]


ORDER_TYPE_WORDS = {
    "complaint": ("投诉", "不满", "乱收费", "态度差"),
    "report": ("举报", "违法", "偷排", "黑作坊"),
    "suggestion": ("建议", "希望能", "能不能增加"),
    "praise": ("表扬", "感谢", "点赞"),
    "help": ("求助", "帮忙", "救助", "被困"),
    "consultation": ("咨询", "请问", "怎么办理", "需要什么材料"),
}


def suggest_type(text: str) -> str:
    """The order type the words suggest; a consultation when nothing points elsewhere (the commonest)."""
    scores = {kind: sum(len(word) for word in words if word in text) for kind, words in ORDER_TYPE_WORDS.items()}
    best = max(scores, key=lambda kind: scores[kind])
    return best if scores[best] else "consultation"


def suggest_from_words(words: Sequence[str], catalogue: Sequence[Entry], limit: int = 3) -> list[Suggestion]:
    """Like suggest, for a segmented text (a transcript): a keyword counts only where it covers whole words, so
    灯 is not found in 路灯 nor 水 in 水平 — a recogniser's text is long and loose, and a stray hit misroutes."""
    longest = max((len(k) for entry in catalogue for k in entry.keywords), default=0)
    spans = set()
    for start in range(len(words)):
        span = ""
        for word in words[start:]:
            span += word
            if len(span) > longest:
                break
            spans.add(span)
    found = []
    for entry in catalogue:
        matched = tuple(keyword for keyword in entry.keywords if keyword in spans)
        if matched:
            found.append(Suggestion(entry, sum(len(keyword) for keyword in matched), matched))
    found.sort(key=lambda s: (-s.score, s.entry.code))
    return found[:limit]
