"""Importing a survey campaign's number list of 100,000 rows, on SQLite and PostgreSQL, end to end through
`CampaignStore.create` (the CSV parsed and checked, the do-not-contact list read, the campaign and one survey per
number written in one transaction, the problem lines kept), against two baselines in the same run:

* **row at a time**: the same store, each survey inserted by its own INSERT statement (still one transaction),
  timed on `--baseline-rows` (10,000) and scaled to the list's size;
* **SQLAlchemy executemany**: the same store, the surveys inserted in chunks of 5,000 through SQLAlchemy Core
  (`connection.execute(insert(Survey), rows)`), which converts every value of every row on the event loop;
* **ours**: the store as it is: chunks of 5,000 by PostgreSQL's COPY (asyncpg), or by the SQLite driver's
  executemany in its own thread, the values every row shares converted once.

The list is generated (seeded): 109 units (Jinan's public evaluation surveys 109), a number, a unit and a name per
row; one row in 500 has a broken number and one in 700 repeats an earlier number, so the problem lines are
part of the work. Each run imports into a fresh copy of a migrated database (a file copy; CREATE DATABASE …
TEMPLATE), so no run sees another's rows. Also measured: the longest the event loop was held up during an import
(a 5 ms ticker's worst lateness), which is what the server's calls would feel.

    .venv/bin/python -m bench.campaign_import [--numbers 100000] [--baseline-rows 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.campaigns.store import NAME_WIDTH, CampaignStore, NewCampaign
from ivr.db.engine import create_engine, upgrade
from ivr.db.models import Survey
from ivr.workorders.directory import Directory
from routing import campaign_list
from tests.helpers import create_database, drop_database

UNITS = 109
SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴")
BROKEN_EVERY, REPEATED_EVERY = 500, 700
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


class RowAtATime(CampaignStore):
    """The baseline: one INSERT per survey."""

    async def _insert_surveys(self, connection: AsyncConnection, common: Mapping[str, Any],
                              rows: list[campaign_list.Row]) -> None:
        for row in rows:
            await connection.execute(insert(Survey).values(**common, unit=row.unit, line=row.line,
                                                           number=row.number, name=row.name[:NAME_WIDTH] or None))


class CoreExecutemany(CampaignStore):
    """The baseline: SQLAlchemy Core's executemany in chunks, every value converted by SQLAlchemy."""

    async def _insert_surveys(self, connection: AsyncConnection, common: Mapping[str, Any],
                              rows: list[campaign_list.Row]) -> None:
        for start in range(0, len(rows), self.chunk):
            await connection.execute(insert(Survey), [
                {**common, "unit": row.unit, "line": row.line, "number": row.number,
                 "name": row.name[:NAME_WIDTH] or None} for row in rows[start:start + self.chunk]])


METHODS: dict[str, type[CampaignStore]] = {"row at a time": RowAtATime, "SQLAlchemy executemany": CoreExecutemany,
                                           "ours (COPY / driver)": CampaignStore}


def units() -> list[str]:
    return [f"u{index:03d}" for index in range(1, UNITS + 1)]


def number_list(rows: int, seed: int = 12345) -> str:
    """A CSV with a header and `rows` rows: number, unit, name; some numbers broken, some repeated."""
    pick = random.Random(seed)
    codes = units()
    lines = ["号码,单位,姓名"]
    for index in range(1, rows + 1):
        if index % BROKEN_EVERY == 0:
            number = f"1{pick.randrange(10**8):08d}"  # 9 digits: reported
        elif index % REPEATED_EVERY == 0:
            number = f"13{index - 1:09d}"  # the row before's number: reported, called once
        else:
            number = f"13{index:09d}"
        lines.append(f"{number},{codes[pick.randrange(UNITS)]},{pick.choice(SURNAMES)}先生")
    return "\n".join(lines) + "\n"


@dataclass
class Measured:
    database: str
    method: str
    rows: int  # rows of the list imported in each run
    scale: float  # the list's size over `rows`: the time is multiplied by it
    seconds: list[float] = field(default_factory=list)
    stalls: list[float] = field(default_factory=list)  # the event loop's worst lateness per run, seconds
    imported: int = 0
    problems: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) * self.scale


@contextlib.asynccontextmanager
async def templates(database: str, folder: Path) -> AsyncIterator[Callable[[], contextlib.AbstractAsyncContextManager[
        AsyncEngine]]]:
    """A migrated database with the units as departments; yields a maker of fresh copies of it."""
    if database == "sqlite":
        template = folder / "template.db"
        url = f"sqlite+aiosqlite:///{template}"
    else:
        template_name = f"hotline_bench_{uuid.uuid4().hex[:10]}"
        url = await create_database(template_name)
    engine = create_engine(url)
    try:
        await upgrade(engine)
        directory = Directory(engine)
        for code in units():
            await directory.add_department(code, f"评议单位{code[1:]}")
    finally:
        await engine.dispose()

    @contextlib.asynccontextmanager
    async def fresh() -> AsyncIterator[AsyncEngine]:
        if database == "sqlite":
            copy = folder / f"run-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(template, copy)
            copy_url, name = f"sqlite+aiosqlite:///{copy}", None
        else:
            name = f"hotline_bench_{uuid.uuid4().hex[:10]}"
            copy_url = await create_database(name, template=template_name)
        engine = create_engine(copy_url)
        try:
            yield engine
        finally:
            await engine.dispose()
            if name is not None:
                await drop_database(name)
            else:
                copy.unlink()

    try:
        yield fresh
    finally:
        if database != "sqlite":
            await drop_database(template_name)


async def timed_import(store: CampaignStore, text: str) -> tuple[float, float, int, int]:
    """(seconds, the event loop's worst lateness, numbers imported, problem lines) of one import."""
    stall = 0.0
    running = True

    async def ticker() -> None:
        nonlocal stall
        loop = asyncio.get_running_loop()
        while running:
            before = loop.time()
            await asyncio.sleep(0.005)
            stall = max(stall, loop.time() - before - 0.005)

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    result = await store.create(NewCampaign("评议", "public_evaluation", "phone,sms", {}, "bench"), text, NOW)
    seconds = time.perf_counter() - started
    running = False
    await ticking
    return seconds, stall, result.imported, len(result.problems)


async def run(numbers: int, baseline_rows: int, repeat: int, databases: list[str],
              say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> list[Measured]:
    full, small = number_list(numbers), number_list(min(baseline_rows, numbers))
    results: list[Measured] = []
    with tempfile.TemporaryDirectory() as folder:
        for database in databases:
            async with templates(database, Path(folder)) as fresh:
                plans = [Measured(database, "row at a time", min(baseline_rows, numbers),
                                  numbers / min(baseline_rows, numbers)),
                         Measured(database, "SQLAlchemy executemany", numbers, 1.0),
                         Measured(database, "ours (COPY / driver)", numbers, 1.0)]
                for round_ in range(repeat):
                    for measured in plans:
                        if measured.method == "row at a time" and round_ > 0:
                            continue  # slow, and steady: once is enough
                        async with fresh() as engine:
                            store = METHODS[measured.method](engine, Path(folder) / "problems")
                            text = small if measured.scale != 1.0 else full
                            seconds, stall, imported, problems = await timed_import(store, text)
                        measured.seconds.append(seconds)
                        measured.stalls.append(stall)
                        measured.imported, measured.problems = imported, problems
                        say(f"[bench] {database}: {measured.method}, {measured.rows} rows: {seconds:.2f} s "
                            f"(loop held up to {stall * 1000:.0f} ms)")
                results.extend(plans)
    return results


def report(results: list[Measured], numbers: int) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    print(f"Campaign import: a list of {numbers} rows ({UNITS} units, 1 row in {BROKEN_EVERY} broken, 1 in "
          f"{REPEATED_EVERY} repeated), {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}")
    print("end to end through CampaignStore.create, each run into a fresh copy of a migrated database\n")
    header = (f"{'database':<10} {'method':<24} {'rows':>7} {'runs':>4} {'median s':>9} {'at 100k s':>9} "
              f"{'rows/s':>8} {'loop stall ms':>13} {'imported':>8} {'problems':>8}")
    print(header)
    print("-" * len(header))
    for m in results:
        scaled = m.median * 100_000 / numbers
        print(f"{m.database:<10} {m.method:<24} {m.rows:>7} {len(m.seconds):>4} "
              f"{statistics.median(m.seconds):>9.2f} {scaled:>9.2f} {numbers / m.median:>8.0f} "
              f"{max(m.stalls) * 1000:>13.0f} {m.imported:>8} {m.problems:>8}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=100_000, help="rows in the list")
    parser.add_argument("--baseline-rows", type=int, default=10_000,
                        help="rows the row-at-a-time baseline imports (its time is scaled to --numbers)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each bulk method")
    parser.add_argument("--databases", default="sqlite,postgresql")
    return parser.parse_args(argv)


def main() -> None:
    arguments = parse()
    databases = [name for name in arguments.databases.split(",") if name]
    report(asyncio.run(run(arguments.numbers, arguments.baseline_rows, arguments.repeat, databases)),
           arguments.numbers)


if __name__ == "__main__":
    main()
