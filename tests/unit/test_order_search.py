"""The text search finds what a plain LIKE finds, whatever the length of the text: on PostgreSQL a two-character
text goes through the bigram index (migration 0011), a longer one through pg_trgm, one character through the
LIKE alone; on SQLite always the LIKE. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.workorders.actors import Actor
from ivr.workorders.directory import Directory
from ivr.workorders.queries import OrderQueries
from ivr.workorders.service import Intake
from tests.helpers import order_service

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
AGENT = Actor("1001", "agent")

# (content, address): Chinese, Latin in both cases, mixed, the LIKE's wildcards and escape as plain characters.
ORDERS = [
    ("古井边的路灯不亮", "江汉路12号"),
    ("风雨桥下积水，古", "井冈山路"),  # 古 and 井 each present, never side by side
    ("KTV噪音扰民", "古井巷3号"),
    ("ktv夜间噪音", None),
    ("折扣100%返现", "a_b路段"),
    ("ab路段施工", "100号"),
    ("反斜杠\\路灯", "水"),
    ("井古", "古"),
    ("路灯坏了，灯不亮", "江汉路"),  # every two characters of 路灯不亮, never the four together
]
TEXTS = ["古井", "井古", "风雨桥", "古井巷", "噪音", "KTV噪", "V噪", "KTV", "ktv", "Ktv", "100%", "0%", "%返",
         "%", "a_b", "_b", "ab", "\\路", "\\", "水", "古", "号", "灯", "路灯不亮", "江汉路12号", "火星", "冰川雪山"]


def like(text: str, value: str | None, ascii_case: bool) -> bool:
    """`value LIKE '%text%'` with the text's wildcards escaped; SQLite's LIKE ignores the case of ASCII letters."""
    if value is None:
        return False
    if not ascii_case:
        return text in value
    fold = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    return text.translate(fold) in value.translate(fold)


async def test_the_text_search_finds_what_a_like_finds_in_the_content_and_the_address(engine: AsyncEngine) -> None:
    directory = Directory(engine)
    service = order_service(engine, directory)
    numbers = {}
    for content, address in ORDERS:
        order = await service.create(Intake("phone", content, address=address), AGENT, NOW)
        numbers[order.number] = (content, address)
    queries = OrderQueries(engine)
    ascii_case = engine.dialect.name == "sqlite"

    for text in TEXTS:
        found = {item["number"] for item in (await queries.search(AGENT, {}, text=text)).items}
        expected = {number for number, (content, address) in numbers.items()
                    if like(text, content, ascii_case) or like(text, address, ascii_case)}
        assert found == expected, text


async def test_every_length_of_text_finds_something_in_the_content_and_in_the_address(engine: AsyncEngine) -> None:
    """The comparison above cannot pass by finding nothing: each kind of text has a match in each column."""
    service = order_service(engine, Directory(engine))
    in_content = await service.create(Intake("phone", "古井旁KTV噪音", address="幸福路"), AGENT, NOW)
    in_address = await service.create(Intake("phone", "路灯不亮", address="古井巷KTV噪音"), AGENT, NOW)
    queries = OrderQueries(engine)

    for text in ("古井", "KTV噪", "V噪", "噪音", "井", "K"):
        found = {item["number"] for item in (await queries.search(AGENT, {}, text=text)).items}
        assert found == {in_content.number, in_address.number}, text
    assert [item["number"] for item in (await queries.search(AGENT, {}, text="幸福")).items] == [in_content.number]
    assert [item["number"] for item in (await queries.search(AGENT, {}, text="巷K")).items] == [in_address.number]
