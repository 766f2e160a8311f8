"""The knowledge base in memory for search: each term of `ranking.text_terms`, per field, to the entries that hold
it, so that a search reads the entries its terms occur in, not every body in the table.

Entries sit in slots in id order (but for the rare one committed after a higher id). A set of entries is a
bit set (`bitsets`): the entries holding a term in a field, those in force today, those of a topic. A search
adds each field's weight to the entries holding each term, bit-sliced, for all entries at once; the phrase
bonus is confirmed by `ranking.has_phrase` only for the entries it could bring into the best `limit`; only
those best are then looked at one by one. The scores and their order are `ranking.score` and
`ranking.order_key`'s, over every entry in force: no candidate limit.

The index holds no database: `live.LiveIndex` fills it and keeps it in step with the table.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

from ivr.knowledge import bitsets, ranking

Key = TypeVar("Key", bound=Hashable)
SPARSE_UP_TO = 256  # entries per term kept as a list of slots; beyond, a bit set (2.5 kB at 20,000 entries)


class EntryRow(Protocol):
    """What the index needs of an entry (a row of knowledge_entries)."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def keywords(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def topic(self) -> str | None: ...
    @property
    def effective_on(self) -> date | None: ...
    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class IndexedEntry:
    id: int
    title: str
    fields: dict[str, str]  # normalised, as `ranking.score` compares them
    topic: str | None
    effective_on: date | None
    active: bool

    @classmethod
    def of(cls, row: EntryRow) -> IndexedEntry:
        fields = ranking.Document(row.title, row.keywords, row.body).fields()
        return cls(row.id, row.title, fields, row.topic, row.effective_on, row.active)

    def terms(self) -> dict[str, set[str]]:
        """The terms each field can be found by; none while inactive (never searched)."""
        return {name: ranking.text_terms(text) if self.active else set() for name, text in self.fields.items()}


class Postings:
    """One field's terms to the slots holding them: a rare term's as an array, a frequent one's as a bit set."""

    def __init__(self) -> None:
        self.sparse: dict[str, array[int]] = {}
        self.dense: dict[str, int] = {}

    def fill(self, slots_by_term: dict[str, list[int]]) -> None:
        for term, slots in slots_by_term.items():
            if len(slots) > SPARSE_UP_TO:
                self.dense[term] = bitsets.from_slots(slots)
            else:
                self.sparse[term] = array("I", slots)

    def add(self, term: str, slot: int) -> None:
        if term in self.dense:
            self.dense[term] |= 1 << slot
            return
        slots = self.sparse.setdefault(term, array("I"))
        slots.append(slot)
        if len(slots) > SPARSE_UP_TO:
            self.dense[term] = bitsets.from_slots(self.sparse.pop(term))

    def remove(self, term: str, slot: int) -> None:
        if term in self.dense:
            self.dense[term] &= ~(1 << slot)
        elif term in self.sparse:
            self.sparse[term].remove(slot)
            if not self.sparse[term]:
                del self.sparse[term]

    def holding(self, term: str) -> int:
        if term in self.dense:
            return self.dense[term]
        return bitsets.from_slots(self.sparse.get(term, ()))


class KnowledgeIndex:
    _entries: list[IndexedEntry]
    _slots: dict[int, int]  # entry id → slot
    _postings: dict[str, Postings]  # per field
    _active: int
    _by_topic: dict[str, int]
    _by_effective: dict[date, int]
    _by_specificity: dict[int, int]
    _late: int  # slots whose ids are below an earlier slot's: every other slot is in id order
    _highest_id: int
    _in_force_cache: tuple[date | None, int]  # (today, the slots in force): recomputed when either changes

    def __init__(self, rows: Iterable[EntryRow] = ()) -> None:
        self._reset(sorted((IndexedEntry.of(row) for row in rows), key=lambda entry: entry.id))

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, row: EntryRow) -> None:
        """Adds the entry, or replaces the one with its id (an edit, a deactivation)."""
        entry = IndexedEntry.of(row)
        slot = self._slots.get(entry.id)
        if slot is not None:
            self._unplace(slot)
        else:
            slot = len(self._entries)
            self._slots[entry.id] = slot
            self._entries.append(entry)
            if entry.id < self._highest_id:  # committed after a later id, by concurrent writers
                self._late |= 1 << slot
            self._highest_id = max(self._highest_id, entry.id)
        self._place(slot, entry)

    def search(self, query_terms: tuple[str, ...], whole: str, today: date, topic: str | None,
               limit: int) -> list[tuple[int, int]]:
        """(score, entry id) of the best entries in force, best first; with no terms, the topic's by title."""
        within = self._in_force(today) & (self._by_topic.get(topic, 0) if topic else -1)
        if not query_terms:
            listed = sorted((self._entries[slot] for slot in bitsets.members(within)),
                            key=lambda entry: (entry.title, entry.id))
            return [(0, entry.id) for entry in listed[:limit]]
        planes: list[int] = []
        matched, holding_all = 0, {}
        for name, weight in ranking.FIELD_WEIGHTS.items():
            holding_all[name] = within
            for term in query_terms:
                holding = self._postings[name].holding(term) & within
                bitsets.add(planes, holding, weight)
                matched |= holding
                holding_all[name] &= holding
        self._add_phrase_bonus(planes, matched, holding_all, query_terms, whole, limit)
        return self._best(planes, matched, limit)

    # Searching

    def _add_phrase_bonus(self, planes: list[int], matched: int, holding_all: dict[str, int],
                          query_terms: tuple[str, ...], whole: str, limit: int) -> None:
        """The whole query can only occur in a field holding every term. Where it is the one term, those are the
        entries; else it is looked for in the entries whose score with it could reach the best `limit`."""
        if not whole:
            return
        if query_terms == (whole,):
            confirmed = holding_all
        else:
            threshold = _kth_best(planes, matched, limit)
            hopeful = list(planes)
            for name, bits in holding_all.items():
                bitsets.add(hopeful, bits, ranking.phrase_points(name, len(query_terms)))
            contenders = bitsets.at_least(hopeful, threshold, matched)
            confirmed = {name: self._with_phrase(contenders & bits, name, whole)
                         for name, bits in holding_all.items()}
        for name, bits in confirmed.items():
            bitsets.add(planes, bits, ranking.phrase_points(name, len(query_terms)))

    def _with_phrase(self, candidates: int, name: str, whole: str) -> int:
        return bitsets.from_slots(slot for slot in bitsets.members(candidates)
                                  if ranking.has_phrase(whole, self._entries[slot].fields[name]))

    def _best(self, planes: list[int], matched: int, limit: int) -> list[tuple[int, int]]:
        """The `limit` best by `ranking.order_key`: those above by their key, then the tied by specificity."""
        above, tied = bitsets.best(planes, matched, limit)
        ranked = sorted(((bitsets.value(planes, slot), self._entries[slot]) for slot in bitsets.members(above)),
                        key=lambda pair: ranking.order_key(pair[0], pair[1].title, pair[1].id))
        found = [(points, entry.id) for points, entry in ranked]
        if tied:
            points = bitsets.value(planes, bitsets.lowest(tied, 1)[0])
            for specificity in sorted(self._by_specificity):
                wanted = limit - len(found)
                if wanted <= 0:
                    break
                found.extend((points, entry_id) for entry_id in self._lowest_ids(
                    tied & self._by_specificity[specificity], wanted))
        return found

    def _lowest_ids(self, bits: int, count: int) -> list[int]:
        """The entries with the lowest ids: the lowest slots, but for the few put in after a higher id."""
        slots = [*bitsets.lowest(bits & ~self._late, count), *bitsets.members(bits & self._late)]
        return sorted(self._entries[slot].id for slot in slots)[:count]

    def _in_force(self, today: date) -> int:
        if self._in_force_cache[0] != today:
            later = 0
            for effective_on, bits in self._by_effective.items():
                if effective_on > today:
                    later |= bits
            self._in_force_cache = (today, self._active & ~later)
        return self._in_force_cache[1]

    # Keeping the slots

    def _reset(self, entries: list[IndexedEntry]) -> None:
        """Fills every structure at once: one bit set per term, not one new big int per entry and term."""
        self._entries = entries
        self._slots = {entry.id: slot for slot, entry in enumerate(entries)}
        self._late, self._highest_id = 0, entries[-1].id if entries else 0
        slots_by_term: dict[str, dict[str, list[int]]] = {name: {} for name in ranking.FIELD_WEIGHTS}
        for slot, entry in enumerate(entries):
            for name, terms in entry.terms().items():
                for term in terms:
                    slots_by_term[name].setdefault(term, []).append(slot)
        self._postings = {name: Postings() for name in ranking.FIELD_WEIGHTS}
        for name, postings in self._postings.items():
            postings.fill(slots_by_term[name])
        self._active = bitsets.from_slots(slot for slot, entry in enumerate(entries) if entry.active)
        self._by_topic = _grouped(entries, lambda entry: entry.topic)
        self._by_effective = _grouped(entries, lambda entry: entry.effective_on)
        self._by_specificity = _grouped(entries, lambda entry: ranking.specificity(entry.title))
        self._in_force_cache = (None, 0)

    def _place(self, slot: int, entry: IndexedEntry) -> None:
        self._entries[slot] = entry
        for name, terms in entry.terms().items():
            for term in terms:
                self._postings[name].add(term, slot)
        self._regroup(slot, entry, present=True)

    def _unplace(self, slot: int) -> None:
        entry = self._entries[slot]
        for name, terms in entry.terms().items():
            for term in terms:
                self._postings[name].remove(term, slot)
        self._regroup(slot, entry, present=False)

    def _regroup(self, slot: int, entry: IndexedEntry, present: bool) -> None:
        self._active = _with_slot(self._active, slot, present and entry.active)
        _toggle(self._by_topic, entry.topic, slot, present)
        _toggle(self._by_effective, entry.effective_on, slot, present)
        _toggle(self._by_specificity, ranking.specificity(entry.title), slot, present)
        self._in_force_cache = (None, 0)


def _kth_best(planes: list[int], matched: int, limit: int) -> int:
    """The score of the `limit`-th best entry (0 if fewer match): every one of the best scores at least that."""
    above, tied = bitsets.best(planes, matched, limit)
    if tied:
        return bitsets.value(planes, bitsets.lowest(tied, 1)[0])
    if above.bit_count() < limit:
        return 0
    return min(bitsets.value(planes, slot) for slot in bitsets.members(above))


def _grouped(entries: list[IndexedEntry], key: Callable[[IndexedEntry], Key | None]) -> dict[Key, int]:
    slots: dict[Key, list[int]] = {}
    for slot, entry in enumerate(entries):
        value = key(entry)
        if value is not None:
            slots.setdefault(value, []).append(slot)
    return {value: bitsets.from_slots(members) for value, members in slots.items()}


def _toggle(groups: dict[Key, int], key: Key | None, slot: int, present: bool) -> None:
    if key is not None:
        groups[key] = _with_slot(groups.get(key, 0), slot, present)


def _with_slot(bits: int, slot: int, present: bool) -> int:
    return bits | 1 << slot if present else bits & ~(1 << slot)
