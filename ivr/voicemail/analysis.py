"""What a draft takes from its transcript: the order type, the catalogue topics (and so the department) the
words point to, and the phone numbers and addresses the caller dictated. Runs in the decoder processes: jieba
loads its dictionary there once, off the server's event loop."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from routing.catalogue import Entry, suggest_from_words, suggest_type
from routing.transcript import addresses, phone_numbers

_known_keywords: set[str] = set()


def words_of(text: str, catalogue: Sequence[Entry]) -> list[str]:
    """jieba's segmentation, with the catalogue's keywords as words of its dictionary (路灯不亮 is one word)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    for entry in catalogue:
        for keyword in entry.keywords:
            if keyword and keyword not in _known_keywords:
                jieba.add_word(keyword)
                _known_keywords.add(keyword)
    return [word for word in jieba.lcut(text) if word.strip()]


def findings(text: str, catalogue: Sequence[Entry]) -> dict[str, Any]:
    topics = suggest_from_words(words_of(text, catalogue), catalogue)
    return {
        "type": suggest_type(text),
        "topics": [{"code": s.entry.code, "topic": s.entry.topic, "department": s.entry.department,
                    "matched": list(s.matched)} for s in topics],
        "phones": [found.text for found in phone_numbers(text)],
        "addresses": [found.text for found in addresses(text)],
    }
