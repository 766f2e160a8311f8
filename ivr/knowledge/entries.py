"""A knowledge entry's editable fields, checked the same way for the web form and for an import file."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ivr.db.limits import check_lengths, check_storable, text_limits
from ivr.db.models import KnowledgeEntry
from ivr.knowledge.errors import BadEntry

FIELDS = ("title", "body", "keywords", "topic", "source", "effective_on", "review_on", "active")
LIMITS = text_limits(KnowledgeEntry)  # title, topic, source


@dataclass(frozen=True)
class EntryFields:
    title: str
    body: str
    keywords: tuple[str, ...] = ()
    topic: str | None = None  # a catalogue code
    source: str = ""  # the document the answer rests on
    effective_on: date | None = None  # none: in force at once
    review_on: date | None = None  # none: never flagged for review
    active: bool = True

    def row(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "keywords": ",".join(self.keywords)}


def parse_entry(data: Mapping[str, Any], base: EntryFields | None = None) -> EntryFields:
    """The fields of a new entry, or with `base` an edit: the fields given replace base's."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise BadEntry(f"unknown field(s): {', '.join(unknown)}; expected {', '.join(FIELDS)}", field=unknown[0])
    check_storable(data, BadEntry)
    check_lengths(data, LIMITS, BadEntry)
    given: dict[str, Any] = {}
    if base is None or "title" in data:
        given["title"] = _required_text(data, "title")
    if base is None or "body" in data:
        given["body"] = _required_text(data, "body")
    if "keywords" in data:
        given["keywords"] = _keywords(data["keywords"])
    if "topic" in data:
        given["topic"] = _optional_text(data, "topic") or None
    if "source" in data:
        given["source"] = _optional_text(data, "source")
    for name in ("effective_on", "review_on"):
        if name in data:
            given[name] = _date(data, name)
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise BadEntry("active must be true or false", field="active")
        given["active"] = data["active"]
    fields = dataclasses.replace(base, **given) if base else EntryFields(**given)
    if fields.effective_on and fields.review_on and fields.review_on <= fields.effective_on:
        raise BadEntry(f"review_on ({fields.review_on}) must come after effective_on ({fields.effective_on})",
                       field="review_on")
    return fields


def _required_text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadEntry(f"{name} is required (non-empty text)", field=name)
    return value.strip()


def _optional_text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadEntry(f"{name} must be text", field=name)
    return value.strip()


def _keywords(value: Any) -> tuple[str, ...]:
    """A list of words, or one text with commas (，too) between them."""
    if isinstance(value, str):
        value = value.replace("，", ",").split(",")
    if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
        raise BadEntry("keywords must be a list of words or a comma-separated text", field="keywords")
    return tuple(dict.fromkeys(word.strip() for word in value if word.strip()))


def _date(data: Mapping[str, Any], name: str) -> date | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, date):  # TOML has dates of its own
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _not_a_date(name, value)
    except ValueError:
        return _not_a_date(name, value)


def _not_a_date(name: str, value: Any) -> date:
    raise BadEntry(f"{name} must be an ISO date such as 2026-01-31, not {value!r}", field=name)
