"""The monthly-report benchmark at a tiny size on PostgreSQL, so that the script cannot rot unnoticed: the data
it generates makes a report, and the row-by-row baseline finds the same call figures as the SQL sums."""

from __future__ import annotations

from bench.monthly_report import TIMED_QUERIES, generate, measure, parse
from ivr.db.engine import create_engine, upgrade
from tests.helpers import fresh_postgres_database


async def test_the_benchmark_generates_a_month_and_times_every_query_of_the_report() -> None:
    arguments = parse(["--orders", "3000", "--calls", "6000", "--runs", "2", "--baseline-runs", "1"])
    assert (arguments.orders, arguments.calls, arguments.database) == (3000, 6000, "hotline_bench")
    async with fresh_postgres_database() as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            generation = await generate(engine, arguments.orders, arguments.calls, 2, say=lambda _line: None)
        finally:
            await engine.dispose()
        result = await measure(url, arguments.runs, arguments.baseline_runs, explain=True, say=lambda _line: None)

    assert generation.load_seconds > 0 and "ix_work_orders_period" in generation.index_seconds
    assert result.rows["calls"] == 6000 and result.rows["work_orders"] == 3000
    # About a 44th of the rows fall in October 2026; the report counts them.
    assert 60 < result.period_rows["orders received"] < 110 and 100 < result.period_rows["calls started"] < 220
    assert result.report is not None and result.report.orders.received == result.period_rows["orders received"]
    assert result.same_figures, result.differences
    assert result.call_rows == result.period_rows["calls started"]
    assert len(result.warm) == 2 and len(result.fetch) == 1
    assert {name.lstrip("_") for name in TIMED_QUERIES} == set(result.own)
    assert result.calls["order_counts"] == 2 and result.calls["visit_counts"] == 2
    assert result.plans and all("Execution Time" in plan for _name, plan in result.plans)
