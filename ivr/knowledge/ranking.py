"""Chinese full-text ranking without a word segmenter, the same on SQLite and PostgreSQL (no extension).

A query is cut into overlapping CJK character bigrams (社保转移 → 社保, 保转, 转移) and Latin or digit words.
Bigrams need no dictionary and still match a 2-character query (路灯) exactly, which SQLite's trigram
tokenizer cannot. An entry scores for each term found in a field, the field weighing more the more it says
about the entry (title > keywords > body), and gets a bonus where the whole query appears as typed. The
in-memory index (`index.py`) finds the entries by `text_terms` and scores them with the same weights.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

FIELD_WEIGHTS = {"title": 5, "keywords": 3, "body": 1}
MAX_WORD = 16  # a Latin or digit query word is matched by its first 16 characters (an ID card number has 18)
MAX_TERMS = 8  # each term is one more pass over every body (docs/benchmarks.md); a question names its subject first
SNIPPET_BEFORE, SNIPPET_AFTER = 20, 60
# Question words: in nearly every body, they would make every entry a candidate and rank none higher.
STOP_BIGRAMS = frozenset({"怎么", "什么", "如何", "请问", "可以", "需要", "哪里", "是否", "一下", "我们", "你们",
                          "我的", "为什么"})
_TOKENS = re.compile(r"(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)|(?P<word>[0-9a-z\u00c0-\u024f]+)")

STALE, DUE_SOON, CURRENT = "stale", "due_soon", "current"


def normalise(text: str) -> str:
    """Full-width letters and digits (ＡＢ１２) as ASCII, lower case: what matching compares."""
    return unicodedata.normalize("NFKC", text).lower()


def terms(query: str) -> tuple[str, ...]:
    """The query's distinct search terms in order: CJK bigrams (a lone character stays a unigram) and words."""
    found: list[str] = []
    for match in _TOKENS.finditer(normalise(query)):
        run = match.group("cjk")
        if run is None:
            found.append(match.group("word")[:MAX_WORD])
        elif len(run) == 1:
            found.append(run)
        else:
            found.extend(run[i:i + 2] for i in range(len(run) - 1))
    distinct = list(dict.fromkeys(found))
    meaningful = [term for term in distinct if term not in STOP_BIGRAMS]
    return tuple((meaningful or distinct)[:MAX_TERMS])


def phrase(query: str) -> str:
    """The whole query as a phrase to look for: normalised, inner spaces kept single."""
    return " ".join(normalise(query).split())


def text_terms(text: str) -> set[str]:
    """Every term a query could find in the normalised text: `term in text` holds exactly when the term is in
    this set. So each CJK character and bigram, and every piece of each Latin or digit word (12 is found in
    2012, as a substring test finds it), up to MAX_WORD characters long: a long code or link in a body costs
    a bounded number of terms, not the square of its length."""
    found: set[str] = set()
    for match in _TOKENS.finditer(text):
        run = match.group("cjk")
        if run is None:
            word = match.group("word")
            found.update(word[start:end] for start in range(len(word))
                         for end in range(start + 1, min(len(word), start + MAX_WORD) + 1))
        else:
            found.update(run)
            found.update(run[i:i + 2] for i in range(len(run) - 1))
    return found


def has_phrase(whole: str, text: str) -> bool:
    return bool(whole) and whole in text


def phrase_points(field: str, term_count: int) -> int:
    """The bonus where the whole query occurs in the field: its weight once per term."""
    return FIELD_WEIGHTS[field] * term_count


def specificity(title: str) -> int:
    """Among equal scores the shorter title comes first: it is the more specific answer."""
    return len(title)


def order_key(points: int, title: str, entry_id: int) -> tuple[int, int, int]:
    return -points, specificity(title), entry_id


def in_force(active: bool, effective_on: date | None, today: date) -> bool:
    return active and (effective_on is None or effective_on <= today)


@dataclass(frozen=True)
class Document:
    title: str
    keywords: str
    body: str

    def fields(self) -> dict[str, str]:
        return {"title": normalise(self.title), "keywords": normalise(self.keywords), "body": normalise(self.body)}


def score(query_terms: Sequence[str], whole: str, document: Document) -> int:
    """Σ over terms and fields of the field's weight where the term occurs, plus, where the whole query occurs
    in a field, that field's weight once per term (so an exact phrase counts double). 0: no match."""
    total = 0
    for name, text in document.fields().items():
        weight = FIELD_WEIGHTS[name]
        total += weight * sum(1 for term in query_terms if term in text)
        if has_phrase(whole, text):
            total += phrase_points(name, len(query_terms))
    return total


def snippet(body: str, query_terms: Sequence[str], whole: str) -> str:
    """A piece of the body around the first place the query (or else any term) occurs; its start otherwise."""
    text = normalise(body)
    found = [position for position in (text.find(needle) for needle in (whole, *query_terms) if needle)
             if position >= 0]
    at = text.find(whole) if whole and whole in text else min(found, default=0)
    start = max(0, at - SNIPPET_BEFORE)
    shown = body if len(body) == len(text) else text  # positions are the normalised text's (ﬁ becomes fi)
    end = min(len(shown), at + SNIPPET_AFTER)
    return ("…" if start > 0 else "") + shown[start:end] + ("…" if end < len(shown) else "")


def review_state(review_on: date | None, today: date, warning_days: int) -> str:
    """stale once the review date has passed; due_soon within the warning days before it; else current."""
    if review_on is None:
        return CURRENT
    if review_on < today:
        return STALE
    return DUE_SOON if (review_on - today).days <= warning_days else CURRENT
