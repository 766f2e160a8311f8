"""The in-memory knowledge index: the same scores and order as `ranking` over every entry in force (checked
against brute force on a generated base, through edits), and kept fresh through the store on SQLite and
PostgreSQL: after an edit, a deactivation, and an import by another process's store."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.knowledge import ranking
from ivr.knowledge.index import KnowledgeIndex
from ivr.knowledge.store import KnowledgeStore
from tests.unit.test_knowledge import NOW, TODAY, WARNING_DAYS, Base, add, base

WORDS = ("社保", "转移", "公积金", "提取", "路灯", "报修", "材料", "怎么", "ETC", "Etc卡", "12345", "2012", "灯",
         "ﬁle", "。", " ", "，", "的", "可以")
QUERIES = ("社保", "社保转移", "社保 转移", "公积金提取材料", "灯", "etc", "12", "ＥＴＣ", "file", "怎么", "路灯 报修",
           "社保关系怎么转移到外地", "的", "转移。")


@dataclass(frozen=True)
class Row:
    id: int
    title: str
    keywords: str
    body: str
    topic: str | None
    effective_on: date | None
    active: bool


def generated(count: int, rng: random.Random) -> list[Row]:
    def text(low: int, high: int) -> str:
        return "".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))

    return [Row(entry_id, text(1, 4), ",".join(rng.sample(WORDS, rng.randint(0, 3))), text(0, 30),
                rng.choice((None, "0301", "1201")), rng.choice((None, TODAY, TODAY + timedelta(days=1))),
                rng.random() > 0.1)
            for entry_id in range(1, count + 1)]


def brute_force(rows: list[Row], query: str, topic: str | None, limit: int) -> list[tuple[int, int]]:
    query_terms, whole = ranking.terms(query), ranking.phrase(query)
    scored = [(ranking.score(query_terms, whole, ranking.Document(row.title, row.keywords, row.body)), row)
              for row in rows if ranking.in_force(row.active, row.effective_on, TODAY)
              and (topic is None or row.topic == topic)]
    ranked = sorted(((points, row) for points, row in scored if points > 0),
                    key=lambda pair: ranking.order_key(pair[0], pair[1].title, pair[1].id))
    return [(points, row.id) for points, row in ranked[:limit]]


def test_text_terms_hold_exactly_the_terms_a_substring_test_finds() -> None:
    rng = random.Random(7)
    for _ in range(300):
        text = ranking.normalise("".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12))))
        held = ranking.text_terms(text)
        for query in QUERIES:
            for term in ranking.terms(query):
                assert (term in held) == (term in text), (term, text)


def test_the_index_ranks_as_ranking_does_over_every_entry_in_force_through_edits() -> None:
    rng = random.Random(12345)
    rows = generated(600, rng)
    index = KnowledgeIndex(row for row in rows if row.id % 7)
    for row in rows:
        if not row.id % 7:
            index.put(row)  # after higher ids, as rows committed late by concurrent writers
    for round_ in range(3):
        for query in QUERIES:
            for topic, limit in ((None, 10), (None, 1), ("0301", 5), (None, 1000)):
                assert index.search(ranking.terms(query), ranking.phrase(query), TODAY, topic, limit) == \
                    brute_force(rows, query, topic, limit), (round_, query, topic, limit)
        for position in rng.sample(range(len(rows)), 60):  # edits, deactivations, reactivations
            rows[position] = replace(generated(1, rng)[0], id=rows[position].id)
            index.put(rows[position])
        rows.append(replace(generated(1, rng)[0], id=len(rows) + 1))
        index.put(rows[-1])


def test_an_entry_committed_after_a_later_id_keeps_ties_in_id_order() -> None:
    early, late = (Row(entry_id, "路灯", "", "", None, None, True) for entry_id in (1, 2))
    index = KnowledgeIndex([late])
    index.put(early)
    for limit in (1, 10):  # the best by a tie, or all of them
        assert [entry_id for _points, entry_id in index.search(("路灯",), "路灯", TODAY, None, limit)] == [1, 2][:limit]


# Fresh through the store, on SQLite and PostgreSQL


@pytest.fixture
async def kb(engine: AsyncEngine) -> AsyncIterator[Base]:
    kb = await base(engine)
    yield kb
    await kb.store.close()


async def test_an_edit_shows_in_the_next_search(kb: Base) -> None:
    lamp = await add(kb, "urban", "路灯报修", "路灯不亮请报修")
    assert [hit.id for hit in await kb.store.search("路灯", TODAY)] == [lamp]
    await kb.store.edit(lamp, kb.departments["urban"], {"title": "井盖缺失", "body": "井盖丢失请报修"},
                        NOW + timedelta(hours=1))
    assert await kb.store.search("路灯", TODAY) == []
    (hit,) = await kb.store.search("井盖", TODAY)
    assert (hit.id, hit.title, hit.snippet) == (lamp, "井盖缺失", "井盖丢失请报修")


async def test_a_deactivated_entry_is_no_longer_found(kb: Base) -> None:
    lamp = await add(kb, "urban", "路灯报修", "路灯不亮请报修")
    other = await add(kb, "urban", "路灯改造", "明年更换路灯")
    assert {hit.id for hit in await kb.store.search("路灯", TODAY)} == {lamp, other}
    await kb.store.edit(lamp, kb.departments["urban"], {"active": False}, NOW + timedelta(hours=1))
    assert [hit.id for hit in await kb.store.search("路灯", TODAY)] == [other]
    await kb.store.edit(lamp, kb.departments["urban"], {"active": True}, NOW + timedelta(hours=2))
    assert [hit.id for hit in await kb.store.search("路灯", TODAY)] == [lamp, other]


async def test_another_processs_import_and_deactivation_show_after_the_check(kb: Base, engine: AsyncEngine) -> None:
    searching = KnowledgeStore(engine, WARNING_DAYS, recheck_seconds=0)
    lamp = await add(kb, "urban", "路灯报修", "路灯不亮请报修")
    assert [hit.id for hit in await searching.search("路灯", TODAY)] == [lamp]  # built here

    elsewhere = KnowledgeStore(engine, WARNING_DAYS)  # as `hotline knowledge import` would, in its own process
    assert await elsewhere.import_entries([{"title": "路灯", "body": "夜间路灯", "department": "urban"}],
                                          NOW + timedelta(hours=1)) == (1, 0)
    await kb.store.edit(lamp, kb.departments["urban"], {"active": False}, NOW + timedelta(hours=1))
    # Read as it is now, a withdrawn entry is not shown even before the check has caught up with it.
    assert await searching.search("路灯", TODAY) == []  # and this search started the check
    await searching.index.settled()
    (hit,) = await searching.search("路灯", TODAY)
    assert (hit.title, hit.snippet, hit.department) == ("路灯", "夜间路灯", "城管局")
    await searching.close()


async def test_a_server_builds_the_index_as_it_starts(kb: Base, engine: AsyncEngine) -> None:
    lamp = await add(kb, "urban", "路灯报修", "路灯不亮请报修")
    starting = KnowledgeStore(engine, WARNING_DAYS)
    starting.index.warm()
    await starting.index.settled()
    assert [hit.id for hit in await starting.search("路灯", TODAY)] == [lamp]
    await starting.close()


def test_a_long_code_in_a_body_costs_a_bounded_number_of_terms_and_is_still_found() -> None:
    code = "".join(random.Random(7).choices("abcdefghijklmnopqrstuvwxyz0123456789", k=2000))  # a pasted hash
    found = ranking.text_terms(ranking.normalise(code))
    assert len(found) <= ranking.MAX_WORD * len(code), "not the 2 million pieces of every substring"
    assert ranking.terms(code[:40]) == (code[:ranking.MAX_WORD],)
    assert ranking.terms(code[:40])[0] in found
