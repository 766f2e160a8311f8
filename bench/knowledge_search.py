"""Knowledge-base search at 20,000 entries, on SQLite and PostgreSQL: `KnowledgeStore.search` (the in-memory
index) against the scan it replaced (every term looked for in every row in SQL, the best 200 ranked in
Python), kept here as the baseline.

Entries are generated Chinese-like text from a small vocabulary (seeded, so every run has the same corpus):
a title of three words, two to four keywords, and a body of six to twelve sentences. The queries are of four
kinds: 2-character words (路灯), a 4- or 5-character phrase (公积金提取), words apart (社保 转移) and a
spoken question (社保关系怎么转移到外地). Each is timed end to end through the async engine, after a warm-up
(which builds the index). Also timed: the index's build, its background check of the table, and the part of
a search that runs on the event loop (the index's ranking). PostgreSQL is the machine's server at
127.0.0.1:5432, in a database made for the run and dropped after it.

    .venv/bin/python -m bench.knowledge_search [--entries 20000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import operator
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import reduce
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, case, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.engine import create_engine, upgrade
from ivr.db.models import Department, KnowledgeEntry, KnowledgeUse
from ivr.knowledge import ranking
from ivr.knowledge.store import COLUMNS, KnowledgeStore
from tests.helpers import fresh_postgres_database

TOPICS = ("社保", "医保", "公积金", "路灯", "物业", "噪音", "停车", "户籍", "居住证", "燃气", "供水", "供暖", "学籍",
          "低保", "养老金", "失业金", "生育津贴", "工伤", "驾驶证", "护照", "出租车", "垃圾", "绿化", "井盖",
          "违建", "油烟", "电梯", "房产证", "契税", "营业执照", "食品安全", "医疗纠纷", "疫苗", "交通罚款")
VERBS = ("办理", "补办", "转移", "提取", "申请", "缴纳", "查询", "变更", "注销", "报修", "投诉", "续签", "领取",
         "核定", "认定", "备案", "审批", "退还", "更换", "登记")
NOUNS = ("材料", "流程", "条件", "时限", "窗口", "网点", "地址", "电话", "费用", "标准", "证明", "身份证",
         "户口本", "合同", "发票", "照片", "表格", "期限", "政策", "规定", "渠道", "平台", "结果", "比例")
FILLERS = ("的", "在", "可以", "需要", "携带", "到", "后", "前", "和", "或者", "按照", "根据", "本市", "居民",
           "工作日", "个人", "单位", "相关", "部门", "办理时", "如有疑问", "请", "及时", "线上", "线下")
QUERIES = {
    "2-char word": ("社保", "路灯", "物业", "护照", "电梯", "井盖"),
    "phrase": ("公积金提取", "社保转移", "路灯报修", "居住证办理", "噪音投诉", "营业执照变更"),
    "words apart": ("社保 转移", "公积金 提取 材料", "物业 投诉", "护照 续签 照片"),
    "question": ("社保关系怎么转移到外地", "公积金提取需要什么材料", "小区路灯坏了找谁报修", "居住证到期了怎么续签"),
}
TODAY = date(2026, 11, 24)


def corpus(count: int, departments: list[int], seed: int = 12345) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    words = (*TOPICS, *VERBS, *NOUNS, *FILLERS, *FILLERS)
    now = datetime(2026, 11, 1, tzinfo=UTC)

    def sentence() -> str:
        return "".join(rng.choice(words) for _ in range(rng.randint(8, 15))) + "。"

    rows = []
    for index in range(count):
        topic = rng.choice(TOPICS)
        rows.append({
            "title": f"{topic}{rng.choice(VERBS)}{rng.choice(NOUNS)}",
            "keywords": ",".join(rng.sample((*TOPICS, *VERBS, *NOUNS), rng.randint(2, 4))),
            "body": "".join(sentence() for _ in range(rng.randint(6, 12))),
            "department_id": departments[index % len(departments)], "topic": None, "source": "",
            "effective_on": date(2026, 1, 1), "review_on": date(2027, 1, 1), "active": True, "updated_at": now,
        })
    return rows


async def fill(engine: AsyncEngine, count: int) -> None:
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(insert(Department), [{"code": f"d{n}", "name": f"部门{n}", "kind": "municipal",
                                                      "active": True} for n in range(20)])
        departments = list((await connection.execute(select(Department.id))).scalars())
        rows = corpus(count, departments)
        for start in range(0, len(rows), 1000):
            await connection.execute(insert(KnowledgeEntry), rows[start:start + 1000])


CANDIDATES = 200
SEARCHED = ((KnowledgeEntry.title, ranking.FIELD_WEIGHTS["title"]),
            (KnowledgeEntry.keywords, ranking.FIELD_WEIGHTS["keywords"]),
            (KnowledgeEntry.body, ranking.FIELD_WEIGHTS["body"]))
Search = Callable[[str], Awaitable[list[int]]]


def scan(engine: AsyncEngine) -> Search:
    """The search before the index (commit 7dbb2a2's KnowledgeStore.search): the entries in force ordered in SQL
    by the weights of the fields each term is found in (instr / strpos per term and field), the best 200
    ranked by `ranking.score`, snippets and use counts for the 10 shown."""
    postgres = engine.dialect.name == "postgresql"

    def found(column: Any, term: str) -> ColumnElement[bool]:
        text = func.lower(column) if term != term.upper() else column
        return (func.strpos(text, term) if postgres else func.instr(text, term)) > 0

    async def search(query: str) -> list[int]:
        query_terms, whole = ranking.terms(query), ranking.phrase(query)
        coarse = reduce(operator.add, [case((found(column, term), weight), else_=0)
                                       for term in query_terms for column, weight in SEARCHED])
        statement = select(*COLUMNS).outerjoin(Department, Department.id == KnowledgeEntry.department_id).where(
            KnowledgeEntry.active, or_(KnowledgeEntry.effective_on.is_(None), KnowledgeEntry.effective_on <= TODAY)
        ).order_by(coarse.desc(), KnowledgeEntry.id).limit(CANDIDATES)
        async with engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
            scored = [(ranking.score(query_terms, whole, ranking.Document(row.title, row.keywords, row.body)), row)
                      for row in rows]
            ranked = sorted([(points, row) for points, row in scored if points > 0],
                            key=lambda pair: ranking.order_key(pair[0], pair[1].title, pair[1].id))[:10]
            ids = [row.id for _points, row in ranked]
            if ids:
                await connection.execute(select(KnowledgeUse.entry_id, func.count()).where(
                    KnowledgeUse.entry_id.in_(ids)).group_by(KnowledgeUse.entry_id))
        for _points, row in ranked:
            ranking.snippet(row.body, query_terms, whole)
        return ids

    return search


def indexed(store: KnowledgeStore) -> Search:
    async def search(query: str) -> list[int]:
        return [hit.id for hit in await store.search(query, TODAY)]

    return search


@dataclass
class Timing:
    database: str
    method: str
    kind: str
    times: list[float]
    found: list[int]
    same: int = 0  # searches whose entries, in order, are the scan's

    def percentile(self, share: float) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000


async def measure(database: str, engine: AsyncEngine, rounds: int) -> list[Timing]:
    store = KnowledgeStore(engine, 14)
    started = time.perf_counter()
    await store.index.current()
    build = time.perf_counter() - started
    timings = [Timing(database, "index build", "(first use)", [build], [len(await store.index.current())])]
    methods = {"scan": scan(engine), "index": indexed(store)}
    expected: dict[str, list[int]] = {}
    for kind, queries in QUERIES.items():
        for method, search in methods.items():
            for query in queries:  # warm-up: the pages in the cache, the statements prepared
                expected.setdefault(query, await search(query))
            timing = Timing(database, method, kind, [], [])
            for _round in range(rounds):
                for query in queries:
                    started = time.perf_counter()
                    found = await search(query)
                    timing.times.append(time.perf_counter() - started)
                    timing.found.append(len(found))
                    timing.same += found == expected[query]
            timings.append(timing)
            print(f"[bench] {database} {method} {kind}: done", file=sys.stderr, flush=True)
    timings.append(await on_the_loop(database, store, rounds))
    timings.append(await checks(database, store, rounds))
    await store.close()
    return timings


async def on_the_loop(database: str, store: KnowledgeStore, rounds: int) -> Timing:
    """The index's ranking alone: the CPU a search spends on the event loop (the rest is the database's)."""
    index = await store.index.current()
    timing = Timing(database, "index rank", "(all kinds)", [], [])
    for _round in range(rounds):
        for queries in QUERIES.values():
            for query in queries:
                started = time.perf_counter()
                found = index.search(ranking.terms(query), ranking.phrase(query), TODAY, None, 10)
                timing.times.append(time.perf_counter() - started)
                timing.found.append(len(found))
    return timing


async def checks(database: str, store: KnowledgeStore, rounds: int) -> Timing:
    """The background check of the table (count, latest updated_at): what no search waits for."""
    timing = Timing(database, "index check", "(background)", [], [])
    for _round in range(rounds):
        started = time.perf_counter()
        await store.index.signature()
        timing.times.append(time.perf_counter() - started)
        timing.found.append(0)
    return timing


@contextlib.asynccontextmanager
async def sqlite_url() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite+aiosqlite:///{Path(folder) / 'knowledge.db'}"


async def run(entries: int, rounds: int, databases: list[str]) -> list[Timing]:
    timings: list[Timing] = []
    for database in databases:
        context = sqlite_url() if database == "sqlite" else fresh_postgres_database()
        async with context as url:
            engine = create_engine(url)
            try:
                started = time.perf_counter()
                await fill(engine, entries)
                print(f"[bench] {database}: {entries} entries in {time.perf_counter() - started:.1f} s",
                      file=sys.stderr, flush=True)
                timings.extend(await measure(database, engine, rounds))
            finally:
                await engine.dispose()
    return timings


def report(timings: list[Timing], entries: int, rounds: int) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    print(f"Knowledge search: {entries} entries, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}")
    print(f"{rounds} rounds of each kind's queries, after one warm-up round; times per search, end to end\n")
    header = (f"{'database':<10} {'kind':<12} {'method':<12} {'searches':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'hits/search':>11} {'as scan':>7}")
    print(header)
    print("-" * len(header))
    for timing in timings:
        print(f"{timing.database:<10} {timing.kind:<12} {timing.method:<12} {len(timing.times):>8} "
              f"{timing.percentile(0.5):>8.2f} {timing.percentile(0.99):>8.2f} "
              f"{statistics.mean(timing.found):>11.1f} {timing.same:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=30, help="times each query is run (after one warm-up)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    arguments = parser.parse_args()
    databases = [name for name in arguments.databases.split(",") if name]
    report(asyncio.run(run(arguments.entries, arguments.rounds, databases)), arguments.entries, arguments.rounds)


if __name__ == "__main__":
    main()
