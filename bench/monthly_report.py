"""The monthly report over 10 million work orders and 20 million calls on PostgreSQL (issue 7: aim under 2 s).

A database (`hotline_bench` unless `--database`) is created, brought to the newest migration with
`ivr.db.engine.upgrade`, given 60 departments and a catalogue of 50 topics, and filled inside PostgreSQL by
`INSERT … SELECT … FROM generate_series` (no row passes through Python), on as many connections as the machine
has cores: `--calls` calls and `--orders` orders spread over the 44 months from April 2023 to 25 November 2026
(about 15,000 calls and 7,500 orders a day, Jinan's volume), ids in time order and each day's rows bunched
around noon; per order its lead department row (a second, returned one for the ~4 % returned orders), the
`rehandle` event of the ~2 % re-handled ones, the return visit answered for ~30 % of closed ones, and the
`terms` the term indexer would have written. The secondary indexes are dropped for the load and rebuilt after
it, then VACUUM ANALYZE (what autovacuum does to settled rows). The database is kept between runs (its
comment records the sizes); `--rebuild` makes it again.

Measured, for October 2026 (Asia/Shanghai): `ReportMaker(engine, settings).make(period)` as the web, the CLI
and the schedule call it: the first run on a fresh engine and the median of `--runs` warm runs, with the time
spent in each function of `ivr/reports/queries.py`; then the **baseline**,
the month's calls fetched row by row and folded in Python by `routing.kpi.call_kpis` (the reference
definition; `ivr.reports.service.call_report` does the same), against the same figures summed in SQL
(`ivr.reports.service.call_figures`), checked equal. `--explain` prints EXPLAIN (ANALYZE, BUFFERS) of every
statement the report sends; `--stale-visibility` measures with the tables' visibility maps cleared, as between
two autovacuum runs on busy tables (the reports' index-only scans then read the table too).

    .venv/bin/python -m bench.monthly_report [--orders 10000000] [--calls 20000000] [--rebuild] [--explain]
    .venv/bin/python -m bench.monthly_report --stale-visibility
    .venv/bin/python -m bench.monthly_report --quick     # 100,000 orders and 200,000 calls in hotline_bench_quick
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import dataclasses
import os
import platform
import statistics
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.workorders import (
    COMMON_WORDS,
    DISTRICTS,
    ESTATES,
    ROADS,
    SURNAMES,
    catalogue_entries,
    department_tree,
    pick,
    sql_array,
    sql_choice,
)
from ivr.db.engine import create_engine, ensure_current, upgrade
from ivr.reports import queries, service
from ivr.reports.builder import ReportMaker
from ivr.reports.model import Report
from ivr.settings import Settings
from ivr.workorders.directory import Directory
from routing import report_periods
from routing.kpi import call_kpis

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ZONE = "Asia/Shanghai"
MONTH = date(2026, 10, 1)
START = datetime.fromisoformat("2023-04-01T00:00:00+08:00")  # local midnight: the daily curve starts there
END = datetime.fromisoformat("2026-11-25T00:00:00+08:00")  # "now": the newest orders are still open
DAYS = (END - START).days  # 1,334 days, about 44 months
PEAK = 0.8  # the daily curve: rows are 9 times as dense at noon as at midnight
DEPARTMENTS = 60
TOPICS = 50
CALL_BATCH, ORDER_BATCH = 1_000_000, 500_000
LOADED_TABLES = ("calls", "work_orders", "order_departments", "order_events", "surveys")
MARK = "bench.monthly_report"

# Shares are cumulative, as bench.workorders.sql_choice reads them.
OUTCOMES = (("answered", 0.885), ("abandoned", 0.945), ("hung_up_before_queue", 0.97), ("callback_requested", 0.978),
            ("voicemail", 0.988), ("timed_out", 0.995), ("refused", 1.0))
LINES = (("hotline-general", 0.85), ("hotline-enterprise", 0.92), ("hotline-dialect", 0.98), ("hotline-english", 1.0))
CALL_RATINGS = (("satisfied", 0.82), ("basically_satisfied", 0.94), ("unsatisfied", 1.0))
TYPES = (("consultation", 0.45), ("help", 0.65), ("complaint", 0.90), ("report", 0.93), ("suggestion", 0.98),
         ("praise", 1.0))
SOURCES = (("phone", 0.80), ("web", 0.87), ("api", 0.92), ("sms", 0.96), ("voicemail", 1.0))
OPEN_STATES = (("draft", 0.05), ("accepted", 0.15), ("dispatched", 0.40), ("signed", 0.75), ("returned", 0.85),
               ("replied", 1.0))
SETTLED_STATES = (("merged", 0.03), ("discarded", 0.035), ("closed", 0.07), ("visited", 0.12), ("evaluated", 1.0))
VISIT_RATINGS = (("very_satisfied", 0.45), ("satisfied", 0.80), ("basically_satisfied", 0.90),
                 ("dissatisfied", 0.97), ("very_dissatisfied", 1.0))
SEASONAL_TERM = "暖气"  # heating: in 3 % of the orders from October to February, none in summer


# --------------------------------------------------------------------------------------------------
# The data
# --------------------------------------------------------------------------------------------------


def moment(counter: str, total: str) -> str:
    """The time of row `counter` of `total`: evenly many a day, bunched around noon within each day, in order."""
    x = f"(({counter} - 1)::float8 * {DAYS} / {total})"
    return (f"(timestamptz '{START.isoformat()}' + interval '1 day' * "
            f"({x} + {PEAK} * sin(2 * pi() * {x}) / (2 * pi())))")


def hashed(value: str, seed: int) -> str:
    """A uniform number in [0, 1) that depends only on `value`: the same order drawn again draws the same."""
    return f"((hashint8extended({value}::bigint, {seed}) & 9007199254740991)::float8 / 9007199254740992.0)"


def citizen(draw: str, other: str, third: str, heavy: float, regular: float) -> str:
    """A phone number: `heavy` of them from 300 numbers that call nearly daily, `regular` from 300,000 that
    call now and then, the rest from the whole numbering plan."""
    return (f"CASE WHEN {draw} < {heavy} THEN '139' || lpad(floor(300 * {other})::int::text, 8, '0') "
            f"WHEN {draw} < {heavy + regular} THEN '138' || lpad(floor(300000 * {other})::int::text, 8, '0') "
            f"ELSE '1' || (ARRAY['5', '7', '8'])[1 + floor(3 * {third})::int] "
            f"|| lpad(floor(1000000000 * {other})::bigint::text, 9, '0') END")


def calls_sql() -> str:
    """One batch of calls (:first to :last of :total). The subqueries end in OFFSET 0 so that each random() is
    drawn once per row and not copied into every expression that uses it."""
    exp = "(-ln(1 - random()))"  # exponential, mean 1
    waits = (f"CASE outcome WHEN 'answered' THEN least(290, 6 * {exp}) WHEN 'abandoned' THEN least(290, 35 * {exp}) "
             f"WHEN 'timed_out' THEN 300 WHEN 'callback_requested' THEN 20 + 40 * {exp} "
             f"WHEN 'voicemail' THEN 10 + 30 * {exp} END")
    return f"""
    INSERT INTO calls (id, uniqueid, linkedid, caller_number, dialled_number, queue, line, intake, started_at,
        enqueued_at, answered_at, ended_at, wait_seconds, talk_seconds, agent, seat, outcome, hangup_cause, rating,
        rated_at)
    SELECT g, uniqueid, uniqueid, caller_number, CASE WHEN outcome = 'refused' THEN '95000' ELSE '12345' END,
           CASE WHEN outcome <> 'refused' THEN line END, CASE WHEN outcome <> 'refused' THEN line END, 'ivr',
           started_at, started_at + greeting * CASE WHEN wait IS NOT NULL THEN 1 END,
           CASE WHEN outcome = 'answered' THEN started_at + greeting + wait * interval '1 second' END,
           CASE WHEN NOT in_progress THEN ended_at END, wait, talk,
           CASE WHEN outcome = 'answered' THEN agent END, CASE WHEN outcome = 'answered' THEN '8' || agent END,
           CASE WHEN in_progress THEN 'in_progress' ELSE outcome END,
           CASE WHEN NOT in_progress THEN 'Normal Clearing' END, rating,
           CASE WHEN rating IS NOT NULL THEN ended_at END
    FROM (
        SELECT *, started_at + greeting + (coalesce(wait, 0) + coalesce(talk, 0)
                      + CASE WHEN outcome = 'voicemail' THEN 40 ELSE 0 END) * interval '1 second' AS ended_at,
               CASE WHEN outcome = 'answered' AND r_rated < 0.55 THEN {sql_choice('r_rating', CALL_RATINGS)}
               END AS rating
        FROM (
            SELECT *, floor(extract(epoch FROM started_at))::bigint::text || '.' || g AS uniqueid,
                   CASE WHEN outcome = 'refused' THEN interval '2 seconds'
                        ELSE interval '1 second' * (8 + 10 * random()) END AS greeting,
                   floor(10 * ({waits}))::float8 / 10 AS wait,
                   CASE WHEN outcome = 'answered' THEN floor(10 * (30 + 200 * {exp}))::float8 / 10 END AS talk
            FROM (
                SELECT g, r_rated, r_rating, {moment('g', 'CAST(:total AS int)')} AS started_at,
                       {sql_choice('r_outcome', OUTCOMES)} AS outcome, {sql_choice('r_line', LINES)} AS line,
                       {citizen('r_caller', 'random()', 'random()', 0.05, 0.30)} AS caller_number,
                       (1001 + floor(300 * random()))::int::text AS agent,
                       g > CAST(:total AS int) - 20 AS in_progress
                FROM (SELECT g, random() AS r_outcome, random() AS r_caller, random() AS r_line,
                             random() AS r_rated, random() AS r_rating
                      FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS g OFFSET 0) AS numbers
                OFFSET 0
            ) AS drawn
            OFFSET 0
        ) AS timed
        OFFSET 0
    ) AS calls
    """


def topic_departments() -> list[int]:
    """The department id of each catalogue topic (catalogue_entries names them by code)."""
    ids = {d.code: d.id for d in department_tree()[:DEPARTMENTS]}
    return [ids[entry["department"]] for entry in catalogue_entries(TOPICS)]


def terms_sql(first: str, count: str, steps: list[str]) -> str:
    """Distinct words of the vocabulary: the topic's, then each a few places further on (the steps add up to
    less than the vocabulary's length, so none comes twice); `count` of them."""
    words, size = sql_array(COMMON_WORDS), len(COMMON_WORDS)
    parts, offset = [f"({words})[1 + {first}]"], first
    for index, step in enumerate(steps, 2):
        offset = f"{offset} + 1 + {step}"
        word = f"({words})[1 + ({offset}) % {size}]"
        parts.append(f"CASE WHEN {count} >= {index} THEN ' ' || {word} ELSE '' END")
    return " || ".join(parts)


def orders_sql() -> str:
    """One batch of orders (:first to :last of :total). An order repeats an earlier one (~5 %): it takes the
    caller and the topic drawn for an order of the last 6.5 days (`origin`), so repeat requests happen as
    they do; the 2 % heavy callers add more."""
    municipal_topics = topic_departments()
    steps = ["floor(11 * random())::int"] * 8
    status = (f"CASE WHEN (created_at > timestamptz '{END.isoformat()}' - interval '15 days' AND r_open < 0.5) "
              f"OR r_open < 0.004 THEN {sql_choice('r_state', OPEN_STATES)} "
              f"ELSE {sql_choice('r_state', SETTLED_STATES)} END")
    lead = (f"CASE WHEN topic_index IS NOT NULL AND random() < 0.8 "
            f"THEN (ARRAY{municipal_topics})[1 + topic_index] "
            f"ELSE 1 + floor({DEPARTMENTS} * random() ^ 1.5)::int END")
    return f"""
    INSERT INTO work_orders (id, number, status, source, caller_number, citizen_name, confidential, type, topic,
        address, call_uniqueid, created_at, updated_at, agent, content, reply, lead_department_id, dispatched_at,
        due_at, returns, final_ruling, extension, satisfied, merged_into_id, closed_at, terms)
    SELECT id, to_char(created_at AT TIME ZONE '{ZONE}', 'YYYYMMDD') || lpad(id::text, 8, '0'),
           status, source, caller_number,
           {pick(sql_array(SURNAMES), len(SURNAMES))} || CASE WHEN random() < 0.5 THEN '先生' ELSE '女士' END,
           random() < 0.01, type, lpad((topic_index + 1)::text, 4, '0'), address,
           CASE WHEN source = 'phone'
                THEN floor(extract(epoch FROM created_at))::bigint::text || '.' || (100000000 + id) END,
           created_at, coalesce(closed_at, dispatched_at, created_at), (1001 + floor(300 * random()))::int::text,
           '市民来电反映' || address || '附近' || topic_word || '问题，' || topic_word
               || '的情况已持续多日，影响周边居民生活，希望有关部门尽快核实处理并回复。',
           CASE WHEN closed_at IS NOT NULL THEN '经核实，' || topic_word || '问题已处理完毕，已告知市民。' END,
           CASE WHEN handled THEN lead_department_id END, dispatched_at, due_at,
           CASE WHEN handled AND r_return < 0.04 THEN 1 + (r_return < 0.005)::int ELSE 0 END, false,
           CASE WHEN handled AND random() < 0.02 THEN 'approved' ELSE 'none' END,
           CASE WHEN status = 'evaluated' THEN random() < 0.9 END,
           CASE WHEN status = 'merged' AND id > 1 THEN greatest(1, id - 1 - floor(:per_day * random())::int) END,
           closed_at,
           CASE WHEN status <> 'draft' THEN terms
               || CASE WHEN extract(month FROM created_at AT TIME ZONE '{ZONE}') IN (10, 11, 12, 1, 2)
                            AND random() < 0.03 THEN ' {SEASONAL_TERM}' ELSE '' END END
    FROM (
        SELECT *, CASE WHEN handled THEN created_at + dispatch_delay END AS dispatched_at,
               CASE WHEN handled THEN created_at + dispatch_delay + time_limit END AS due_at,
               CASE WHEN closed_at_intake THEN created_at + interval '1 minute' * (2 + 10 * random())
                    WHEN handled AND status IN ('closed', 'visited', 'evaluated')
                    THEN greatest(created_at + dispatch_delay,
                                  least(created_at + dispatch_delay + time_limit * 1.15 * random() ^ 1.5,
                                        timestamptz '{END.isoformat()}')) END AS closed_at,
               {terms_sql('first_term', 'term_count', steps)} AS terms,
               ({sql_array(COMMON_WORDS)})[1 + first_term] AS topic_word
        FROM (
            SELECT *, {lead} AS lead_department_id,
                   coalesce(topic_index, floor({len(COMMON_WORDS)} * random() ^ 2)::int) AS first_term,
                   5 + floor(5 * random())::int AS term_count,
                   status IN ('dispatched', 'signed', 'returned', 'replied')
                       OR (status IN ('closed', 'visited', 'evaluated') AND NOT closed_at_intake) AS handled,
                   interval '1 minute' * (5 + 115 * random()) AS dispatch_delay,
                   interval '1 day' * (3 + floor(12 * random())) AS time_limit
            FROM (
                SELECT *, status IN ('closed', 'visited', 'evaluated') AND source = 'phone'
                              AND type IN ('consultation', 'help') AND random() < 0.55 AS closed_at_intake,
                       {citizen(hashed('origin', 1), hashed('origin', 2), hashed('origin', 3), 0.02, 0.23)}
                           AS caller_number,
                       CASE WHEN {hashed('origin', 4)} >= 0.03
                            THEN floor({TOPICS} * {hashed('origin', 5)} ^ 2)::int END AS topic_index,
                       {pick(sql_array(DISTRICTS), len(DISTRICTS))}
                           || {pick(sql_array(ROADS), len(ROADS), "random() ^ 2")}
                           || (1 + floor(300 * random()))::int || '号'
                           || CASE WHEN random() < 0.5 THEN {pick(sql_array(ESTATES), len(ESTATES))}
                                   || (1 + floor(30 * random()))::int || '栋' ELSE '' END AS address
                FROM (
                    SELECT g AS id, created_at, {status} AS status, {sql_choice('r_source', SOURCES)} AS source,
                           {sql_choice('r_type', TYPES)} AS type, r_return,
                           CASE WHEN r_repeat < 0.05 THEN greatest(1, g - 1 - floor(6.5 * :per_day * random())::int)
                                ELSE g END AS origin
                    FROM (SELECT g, {moment('g', 'CAST(:total AS int)')} AS created_at, random() AS r_open,
                                 random() AS r_state, random() AS r_source, random() AS r_type, random() AS r_return,
                                 random() AS r_repeat
                          FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS g OFFSET 0) AS numbers
                    OFFSET 0
                ) AS drawn
                OFFSET 0
            ) AS classified
            OFFSET 0
        ) AS scheduled
        OFFSET 0
    ) AS orders
    """


# The lead department of each dispatched order; a returned order also has the row of the department that gave it
# back (taken off without a reply: done, replied_at NULL), dispatched at the same moment.
LEAD_SQL = f"""
    INSERT INTO order_departments (order_id, department_id, role, dispatched_at, signed_at, replied_at, reply, due_at,
                                   paused_seconds, done)
    SELECT id, lead_department_id, 'lead', dispatched_at,
           CASE WHEN status <> 'dispatched' THEN dispatched_at + interval '5 hours' END,
           replied_at, CASE WHEN replied_at IS NOT NULL THEN '已处理' END, due_at, 0, replied_at IS NOT NULL
    FROM (SELECT *, CASE WHEN closed_at IS NOT NULL THEN closed_at - (closed_at - dispatched_at) * 0.1
                         WHEN status = 'replied'
                         THEN least(dispatched_at + interval '1 day', timestamptz '{END.isoformat()}') END AS replied_at
          FROM work_orders WHERE id BETWEEN :first AND :last AND dispatched_at IS NOT NULL) AS dispatched
"""
RETURNED_SQL = f"""
    INSERT INTO order_departments (order_id, department_id, role, dispatched_at, signed_at, due_at, paused_seconds,
                                   done)
    SELECT id, 1 + lead_department_id % {DEPARTMENTS}, 'lead', dispatched_at, dispatched_at + interval '1 hour',
           due_at, 0, true
    FROM work_orders WHERE id BETWEEN :first AND :last AND dispatched_at IS NOT NULL AND returns > 0
"""
REHANDLE_SQL = f"""
    INSERT INTO order_events (order_id, at, actor, role, action, from_state, to_state, department_id)
    SELECT id, least(closed_at + interval '1 day' * (1 + 3 * random()), timestamptz '{END.isoformat()}'),
           'system', 'system', 'rehandle', 'visited', 'dispatched', lead_department_id
    FROM work_orders WHERE id BETWEEN :first AND :last AND dispatched_at IS NOT NULL AND closed_at IS NOT NULL
         AND random() < 0.02
"""
VISITS_SQL = f"""
    INSERT INTO surveys (order_id, round, number, script, status, closed_at, calls, texted, answered_via, answered_at,
                         solved, rating, appeal, created_at, updated_at)
    SELECT id, 1, caller_number, 'return_visit', 'answered', closed_at, 1, via = 'sms', via, answered_at,
           rating IN ('very_satisfied', 'satisfied', 'basically_satisfied'), rating,
           CASE WHEN random() < 0.005 THEN 'upheld' ELSE 'none' END, closed_at, answered_at
    FROM (SELECT id, caller_number, closed_at,
                 least(closed_at + interval '1 hour' * (2 + 70 * random()), timestamptz '{END.isoformat()}')
                     AS answered_at,
                 CASE WHEN random() < 0.8 THEN 'phone' ELSE 'sms' END AS via,
                 {sql_choice('r_rating', VISIT_RATINGS)} AS rating
          FROM (SELECT id, caller_number, closed_at, random() AS r_rating FROM work_orders
                WHERE id BETWEEN :first AND :last AND status IN ('visited', 'evaluated') AND closed_at IS NOT NULL
                      AND random() < 0.36 OFFSET 0) AS drawn
          OFFSET 0) AS visited
"""


@dataclass
class Generation:
    seconds: float = 0.0  # everything: rows, indexes, VACUUM ANALYZE
    load_seconds: float = 0.0
    index_seconds: dict[str, float] = field(default_factory=dict)
    vacuum_seconds: float = 0.0


async def add_directory(engine: AsyncEngine) -> None:
    tree = department_tree()[:DEPARTMENTS]  # the city, 40 municipal departments, 12 districts, 7 streets
    async with engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO departments (id, code, name, kind, parent_id, active) "
            "VALUES (:id, :code, :name, :kind, :parent_id, true)"), [vars(d) for d in tree])
        await connection.execute(text("SELECT setval(pg_get_serial_sequence('departments', 'id'), :last)"),
                                 {"last": tree[-1].id})
    await Directory(engine).load_catalogue(catalogue_entries(TOPICS))


async def secondary_indexes(engine: AsyncEngine) -> list[tuple[str, str]]:
    """The loaded tables' indexes that no constraint owns: (name, CREATE INDEX statement)."""
    async with engine.connect() as connection:
        rows = await connection.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:tables) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint) ORDER BY tablename, indexname"), {"tables": list(LOADED_TABLES)})
        return [(name, definition) for name, definition in rows.all()]


async def generate(engine: AsyncEngine, orders: int, calls: int, workers: int,
                   say: Callable[[str], None]) -> Generation:
    """Fills a migrated, empty database."""
    report = Generation()
    started = time.monotonic()
    await add_directory(engine)
    indexes = await secondary_indexes(engine)
    async with engine.begin() as connection:
        for name, _definition in indexes:
            await connection.execute(text(f'DROP INDEX "{name}"'))
    slots = asyncio.Semaphore(workers)
    done = {"calls": 0, "orders": 0}
    call_statement, order_statement = calls_sql(), orders_sql()
    per_day = orders / DAYS

    async def batch(kind: str, first: int, last: int) -> None:
        async with slots, engine.begin() as connection:
            # The rows reference only departments and orders that exist: skipping the FK triggers saves a lookup.
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            # Each batch draws its own seeded sequence: the same sizes make the same rows, whatever the order.
            await connection.execute(text("SELECT setseed(:seed)"),
                                     {"seed": (first % 1_000_003) / 1_000_003 - (0.5 if kind == "calls" else 0.0)})
            window = {"first": first, "last": last}
            if kind == "calls":
                await connection.execute(text(call_statement), window | {"total": calls})
            else:
                await connection.execute(text(order_statement), window | {"total": orders, "per_day": per_day})
                for statement in (LEAD_SQL, RETURNED_SQL, REHANDLE_SQL, VISITS_SQL):
                    await connection.execute(text(statement), window)
        done[kind] += last - first + 1
        say(f"  {done['calls']:,} calls, {done['orders']:,} orders ({time.monotonic() - started:.0f} s)")

    jobs = [batch("orders", first, min(first + ORDER_BATCH - 1, orders)) for first in range(1, orders + 1, ORDER_BATCH)]
    jobs += [batch("calls", first, min(first + CALL_BATCH - 1, calls)) for first in range(1, calls + 1, CALL_BATCH)]
    await asyncio.gather(*jobs)
    async with engine.begin() as connection:
        for table, last in (("calls", calls), ("work_orders", orders)):
            await connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"),
                                     {"n": max(last, 1)})
        for table in ("order_departments", "order_events", "surveys"):
            await connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) "
                f"FROM {table}"))
    report.load_seconds = time.monotonic() - started
    say(f"rows in {report.load_seconds:.0f} s; building {len(indexes)} indexes")
    report.index_seconds = await build_indexes(engine, indexes, workers, say)
    vacuum_started = time.monotonic()
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in LOADED_TABLES:
            await connection.execute(text(f"VACUUM (ANALYZE) {table}"))
        await connection.execute(text("ANALYZE"))
    report.vacuum_seconds = time.monotonic() - vacuum_started
    report.seconds = time.monotonic() - started
    return report


async def build_indexes(engine: AsyncEngine, indexes: list[tuple[str, str]], workers: int,
                        say: Callable[[str], None]) -> dict[str, float]:
    """The indexes on `workers` connections at once, the slow GIN ones first."""
    pending = sorted(indexes, key=lambda index: " gin " not in index[1].lower())
    seconds: dict[str, float] = {}

    async def worker() -> None:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("SET maintenance_work_mem = '1GB'"))
            while pending:
                name, definition = pending.pop(0)
                started = time.monotonic()
                await connection.execute(text(definition))
                seconds[name] = time.monotonic() - started
                say(f"  {name}: {seconds[name]:.1f} s")

    await asyncio.gather(*(worker() for _ in range(workers)))
    return seconds


# --------------------------------------------------------------------------------------------------
# The database, kept between runs
# --------------------------------------------------------------------------------------------------


def url_of(database: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"


def label(orders: int, calls: int) -> str:
    return f"{MARK} orders={orders} calls={calls}"


async def database_comment(database: str) -> str | None:
    """The database's comment ('' without one), None if there is no such database."""
    admin = await asyncpg.connect(ADMIN)
    try:
        row = await admin.fetchrow("SELECT coalesce(shobj_description(oid, 'pg_database'), '') AS comment "
                                   "FROM pg_database WHERE datname = $1", database)
    finally:
        await admin.close()
    return None if row is None else str(row["comment"])


async def admin_execute(statement: str) -> None:
    admin = await asyncpg.connect(ADMIN)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def prepare(arguments: argparse.Namespace, say: Callable[[str], None]) -> Generation | None:
    """The benchmark's database at the newest migration, filled; the generation's figures if it was made now."""
    name, wanted = arguments.database, label(arguments.orders, arguments.calls)
    comment = await database_comment(name)
    if comment and not comment.startswith(MARK):
        raise SystemExit(f"{name} is not this benchmark's database (its comment: {comment!r}); --database names "
                         f"another")
    if comment is not None and comment.startswith(MARK) and comment != wanted and not arguments.rebuild:
        raise SystemExit(f"{name} holds {comment.removeprefix(MARK).strip()}; --rebuild makes it with the sizes "
                         f"asked for, or --database names another")
    fresh = comment != wanted or arguments.rebuild  # made now, or left half-made by an interrupted run
    if fresh and comment is not None:
        say(f"dropping {name}")
        await admin_execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    if fresh:
        await admin_execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(url_of(name))
    try:
        started = time.monotonic()
        await upgrade(engine)  # a kept database gets a newer migration (and its index) here
        await ensure_current(engine)
        say(f"{name}: at the newest migration ({time.monotonic() - started:.1f} s)")
        if not fresh:
            return None
        say(f"generating {arguments.orders:,} orders and {arguments.calls:,} calls on {arguments.workers} "
            f"connections")
        generation = await generate(engine, arguments.orders, arguments.calls, arguments.workers, say)
    finally:
        await engine.dispose()
    await admin_execute(f"COMMENT ON DATABASE \"{name}\" IS '{wanted}'")
    say(f"generated in {generation.seconds:.0f} s")
    return generation


# --------------------------------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------------------------------

# What the report calls, by name: ivr/reports/queries.py's functions.
TIMED_QUERIES = ("call_counts", "calls_by_hour", "order_counts", "_reopened", "_overdue",
                 "orders_by_hour", "visit_counts", "topic_names", "department_counts", "term_counts")


class Stopwatch:
    """Times every call of the report's query functions while installed; a call's own time leaves out the
    functions it calls (order_counts calls _reopened and _overdue)."""

    def __init__(self) -> None:
        self.own: defaultdict[str, float] = defaultdict(float)
        self.calls: defaultdict[str, int] = defaultdict(int)
        # The calls in progress, per task: the report reads its two periods in two tasks at once. Each entry is
        # the function's name and the time spent in the functions it called (a cell of its own).
        self._stack: contextvars.ContextVar[tuple[tuple[str, list[float]], ...]] = contextvars.ContextVar(
            "stopwatch", default=())

    @property
    def running(self) -> list[str]:
        """The names of this task's calls in progress, innermost last."""
        return [name for name, _ in self._stack.get()]

    def wrap(self, name: str, function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            inner = [0.0]
            token = self._stack.set((*self._stack.get(), (name, inner)))
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                spent = time.perf_counter() - started
                self._stack.reset(token)
                self.own[name] += spent - inner[0]
                self.calls[name] += 1
                if self._stack.get():
                    self._stack.get()[-1][1][0] += spent

        return timed

    def reset(self) -> None:
        self.own.clear()
        self.calls.clear()


@contextlib.contextmanager
def installed(stopwatch: Stopwatch) -> Iterator[None]:
    originals: list[tuple[Any, str, Any]] = [(queries, name, getattr(queries, name)) for name in TIMED_QUERIES]
    for module, name, function in originals:
        setattr(module, name, stopwatch.wrap(name.lstrip("_") if module is queries else name, function))
    try:
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


@dataclass
class Measurement:
    first: float = 0.0  # the first report on a fresh engine
    warm: list[float] = field(default_factory=list)
    own: dict[str, list[float]] = field(default_factory=dict)  # per function: its own time in each warm run
    rest: list[float] = field(default_factory=list)  # per warm run: the time outside those functions
    calls: dict[str, int] = field(default_factory=dict)  # per function: calls per report
    report: Report | None = None
    fetch: list[float] = field(default_factory=list)  # baseline: the month's calls read row by row
    fold: list[float] = field(default_factory=list)  # baseline: routing.kpi.call_kpis over them
    call_rows: int = 0
    sql_calls: list[float] = field(default_factory=list)  # the same figures summed in SQL
    same_figures: bool = False
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    plans: list[tuple[str, str]] = field(default_factory=list)  # (function, EXPLAIN ANALYZE)
    rows: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    period_rows: dict[str, int] = field(default_factory=dict)
    server: dict[str, str] = field(default_factory=dict)
    visibility: str = "current (VACUUM)"  # the tables' visibility maps while measuring

    @property
    def median(self) -> float:
        return statistics.median(self.warm)


def settings() -> Settings:
    return dataclasses.replace(Settings(), timezone=ZONE)


async def measure(url: str, runs: int, baseline_runs: int, explain: bool, say: Callable[[str], None]) -> Measurement:
    period = report_periods.month(MONTH, ZONE)
    start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
    result = Measurement()
    stopwatch = Stopwatch()
    engine = create_engine(url)
    try:
        await describe(engine, result, start, end)
        maker = ReportMaker(engine, settings())
        with installed(stopwatch):
            started = time.perf_counter()
            result.report = await maker.make(period)
            result.first = time.perf_counter() - started
            say(f"first report: {result.first:.2f} s")
            result.calls = dict(stopwatch.calls)
            own: defaultdict[str, list[float]] = defaultdict(list)
            for _ in range(runs):
                stopwatch.reset()
                started = time.perf_counter()
                await maker.make(period)
                result.warm.append(time.perf_counter() - started)
                for name, seconds in stopwatch.own.items():
                    own[name].append(seconds)
                result.rest.append(result.warm[-1] - sum(stopwatch.own.values()))
            result.own = dict(own)
            say(f"warm reports: {', '.join(f'{s:.2f}' for s in result.warm)} s")
            if explain:
                result.plans = await explain_report(engine, maker, period, stopwatch)
        await baseline(engine, result, start, end, runs, baseline_runs, say)
    finally:
        await engine.dispose()
    return result


async def baseline(engine: AsyncEngine, result: Measurement, start: datetime, end: datetime, runs: int,
                   baseline_runs: int, say: Callable[[str], None]) -> None:
    """The month's calls row by row, folded by routing.kpi.call_kpis, against call_figures' sums in SQL."""
    options = settings()
    level, wrapup = options.queue.service_level_seconds, float(options.queue.wrapup_seconds)
    folded: dict[str, Any] = {}
    for _ in range(baseline_runs):
        started = time.perf_counter()
        facts = await service._calls(engine, start, end)
        fetched = time.perf_counter()
        kpis = call_kpis(facts, level, service.SHORT_ABANDON_SECONDS, wrapup)
        result.fetch.append(fetched - started)
        result.fold.append(time.perf_counter() - fetched)
        result.call_rows = len(facts)
        folded = asdict(kpis)
        del facts
    folded.pop("abandoned_calls", None)
    summed: dict[str, Any] = {}
    for _ in range(runs):
        started = time.perf_counter()
        summed = await service.call_figures(engine, options, start, end)
        result.sql_calls.append(time.perf_counter() - started)
    result.differences = {key: (folded.get(key), summed.get(key)) for key in folded.keys() | summed.keys()
                          if folded.get(key) != summed.get(key)}
    result.same_figures = not result.differences
    say(f"baseline: fetch {statistics.median(result.fetch):.2f} s + fold {statistics.median(result.fold):.2f} s; "
        f"SQL {statistics.median(result.sql_calls):.3f} s; same figures: {result.same_figures}")


async def explain_report(engine: AsyncEngine, maker: ReportMaker, period: report_periods.ReportPeriod,
                         stopwatch: Stopwatch) -> list[tuple[str, str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement one report sends, with its own parameters, in one
    transaction in the order sent (the settings the report's functions make, set_config, are made, not explained)."""
    statements: list[tuple[str, str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "pg_catalog" not in statement:
            statements.append((stopwatch.running[-1] if stopwatch.running else "?", statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await maker.make(period)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    plans = []
    async with engine.connect() as connection:
        for name, statement, parameters in statements:
            if "set_config(" in statement:
                await connection.exec_driver_sql(statement, parameters)
                continue
            plan = await connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plans.append((name, statement + "\n" + "\n".join(line for (line,) in plan.all())))
    return plans


async def describe(engine: AsyncEngine, result: Measurement, start: datetime, end: datetime) -> None:
    async with engine.connect() as connection:
        for table in (*LOADED_TABLES, "departments", "catalogue_entries"):
            result.rows[table] = int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
            result.sizes[table] = int((await connection.execute(text(
                f"SELECT pg_total_relation_size('{table}')"))).scalar_one())
        window = {"start": start, "end": end}
        for name, statement in (
                ("calls started", "SELECT count(*) FROM calls WHERE started_at >= :start AND started_at < :end"),
                ("orders received", "SELECT count(*) FROM work_orders WHERE created_at >= :start AND "
                                    "created_at < :end AND status NOT IN ('draft', 'discarded')"),
                ("lead rows dispatched", "SELECT count(*) FROM order_departments WHERE dispatched_at >= :start "
                                         "AND dispatched_at < :end"),
                ("visits answered", "SELECT count(*) FROM surveys WHERE answered_at >= :start AND answered_at < :end")):
            result.period_rows[name] = int((await connection.execute(text(statement), window)).scalar_one())
        for setting in ("server_version", "shared_buffers", "work_mem", "effective_cache_size",
                        "max_parallel_workers_per_gather", "jit", "random_page_cost"):
            result.server[setting] = str((await connection.execute(text(f"SHOW {setting}"))).scalar_one())


# --------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    memory = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return (f"{os.cpu_count()} CPUs ({model}), {memory / 1024 ** 2:.0f} GiB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def print_report(result: Measurement, generation: Generation | None, arguments: argparse.Namespace) -> None:
    server = result.server
    print(f"\nMonthly report over {result.rows['work_orders']:,} orders and {result.rows['calls']:,} calls: "
          f"{machine()}")
    print(f"PostgreSQL {server['server_version']}; shared_buffers {server['shared_buffers']}, work_mem "
          f"{server['work_mem']}, effective_cache_size {server['effective_cache_size']}, "
          f"max_parallel_workers_per_gather {server['max_parallel_workers_per_gather']}, jit {server['jit']}, "
          f"random_page_cost {server['random_page_cost']}")
    if generation is None:
        print(f"database {arguments.database}: kept from an earlier run (--rebuild to make it again)")
    else:
        print(f"generation {generation.seconds:.0f} s: rows {generation.load_seconds:.0f} s ({arguments.workers} "
              f"connections), indexes {sum(generation.index_seconds.values()):.0f} s of work, VACUUM ANALYZE "
              f"{generation.vacuum_seconds:.0f} s")
        for name, seconds in generation.index_seconds.items():
            print(f"  {name:<44} {seconds:7.1f} s")
    print("\ntable                    rows       size")
    for table, count in result.rows.items():
        print(f"  {table:<18} {count:>12,} {result.sizes[table] / 1024 ** 2:>9,.0f} MiB")
    print(f"visibility maps: {result.visibility}")
    print(f"\nperiod {MONTH:%Y-%m} ({ZONE}): " + ", ".join(f"{count:,} {name}"
                                                         for name, count in result.period_rows.items()))
    print(f"\nReportMaker.make, the month and the month before: first run {result.first:.2f} s; "
          f"{len(result.warm)} warm runs: median {result.median:.2f} s (min {min(result.warm):.2f}, "
          f"max {max(result.warm):.2f})")
    print("\nthe two periods are read at once on two connections: the functions' times overlap, their shares of the "
          "report's time add up to more than 100 %")
    print(f"{'function':<22} {'calls':>5} {'median ms':>10} {'share':>6}")
    for name, spent in sorted(result.own.items(), key=lambda item: -statistics.median(item[1])):
        ms = 1000 * statistics.median(spent)
        print(f"  {name:<20} {result.calls.get(name, 0):>5} {ms:>10.1f} {ms / 10 / result.median:>5.0f}%")
    if statistics.median(result.rest) > 0:
        print(f"  {'(the rest)':<20} {'':>5} {1000 * statistics.median(result.rest):>10.1f}")
    fetch, fold, sql = (statistics.median(values) for values in (result.fetch, result.fold, result.sql_calls))
    print(f"\nBaseline, the month's call figures ({result.call_rows:,} calls): row by row and routing.kpi.call_kpis "
          f"{fetch + fold:.2f} s (fetch {fetch:.2f} s, fold {fold:.2f} s; median of {len(result.fetch)}); "
          f"summed in SQL (call_figures) {1000 * sql:.0f} ms (median of {len(result.sql_calls)}): "
          f"x{(fetch + fold) / sql:.0f}; the same figures: {'yes' if result.same_figures else 'NO'}")
    for key, (folded, summed) in sorted(result.differences.items()):
        print(f"  {key}: call_kpis {folded!r}, SQL {summed!r}")
    if result.report is not None:
        figures(result.report)
    for name, plan in result.plans:
        print(f"\nEXPLAIN ANALYZE ({name}):\n{plan}")


def figures(report: Report) -> None:
    calls, orders = report.calls, report.orders
    print(f"\nfigures of {report.period.label}: {calls['offered']:,} calls offered, answer rate "
          f"{calls['answer_rate']}, 15-s rate {calls['service_level_rate']}, {calls['abandoned']:,} abandoned")
    print(f"  {orders.received:,} orders received, {orders.merged:,} merged, completion {orders.completion_rate}, "
          f"on time {orders.on_time_rate}, satisfaction {orders.satisfaction_rate} ({orders.visited:,} visits)")
    print(f"  first call {orders.first_call_resolution_rate}, returns {orders.return_rate}, "
          f"{orders.reopened:,} reopened, repeats {orders.repeat_rate}, {orders.overdue:,} overdue")
    print(f"  {len(report.by_topic)} topics, {len(report.departments)} departments; hot terms "
          + ", ".join(f"{row.term} {row.count:,}{' (surge)' if row.surge else ''}" for row in report.hot_terms[:6]))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--calls", type=int, default=20_000_000)
    parser.add_argument("--quick", action="store_true",
                        help="100,000 orders and 200,000 calls in hotline_bench_quick: a check of a few seconds")
    parser.add_argument("--database", help="default: hotline_bench (hotline_bench_quick with --quick)")
    parser.add_argument("--rebuild", action="store_true", help="make the database again even if it is there")
    parser.add_argument("--runs", type=int, default=5, help="warm runs of the report")
    parser.add_argument("--baseline-runs", type=int, default=3, help="runs of the row-by-row baseline")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the report's statements")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="connections loading at once")
    parser.add_argument("--stale-visibility", action="store_true",
                        help="measure with the tables' visibility maps cleared, as between two autovacuum runs "
                             "(index-only scans then read the table too); VACUUM restores them afterwards")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.orders, arguments.calls = 100_000, 200_000
    arguments.database = arguments.database or ("hotline_bench_quick" if arguments.quick else "hotline_bench")
    return arguments


async def main(arguments: argparse.Namespace) -> Measurement:
    def say(line: str) -> None:
        print(line, flush=True)

    generation = await prepare(arguments, say)
    url = url_of(arguments.database)
    async with stale_visibility(url, arguments.stale_visibility, say):
        result = await measure(url, arguments.runs, arguments.baseline_runs, arguments.explain, say)
    result.visibility = "cleared (--stale-visibility)" if arguments.stale_visibility else "current (VACUUM)"
    print_report(result, generation, arguments)
    return result


@contextlib.asynccontextmanager
async def stale_visibility(url: str, clear: bool, say: Callable[[str], None]) -> AsyncIterator[None]:
    """With `clear`, the loaded tables' visibility maps emptied (pg_visibility) and the planner told (ANALYZE):
    the state between two autovacuum runs, in which an index-only scan reads the table too. VACUUM after."""
    if not clear:
        yield
        return
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_visibility"))
            for table in LOADED_TABLES:
                await connection.execute(text(f"SELECT pg_truncate_visibility_map('{table}')"))
                await connection.execute(text(f"ANALYZE {table}"))
        say("visibility maps cleared")
        yield
    finally:
        started = time.monotonic()
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in LOADED_TABLES:
                await connection.execute(text(f"VACUUM (ANALYZE) {table}"))
            await connection.execute(text("DROP EXTENSION IF EXISTS pg_visibility"))
        await engine.dispose()
        say(f"visibility maps restored by VACUUM in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main(parse()))
