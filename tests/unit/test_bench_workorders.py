"""The work-order benchmark at a tiny size on PostgreSQL, so that the script cannot rot unnoticed."""

from __future__ import annotations

from bench.workorders import department_tree, parse, run
from tests.helpers import fresh_postgres_database


async def test_the_benchmark_generates_the_orders_and_measures_every_query() -> None:
    arguments = parse(["--orders", "3000", "--iterations", "2", "--baseline-iterations", "1"])
    async with fresh_postgres_database() as url:
        report = await run(url, arguments, say=lambda _line: None)

    generated = report.generation
    assert generated.orders == 3000
    assert generated.departments == len(department_tree()) and 2900 < generated.departments < 3100
    assert generated.catalogue == 300
    # Every dispatched order has its lead department; about one in ten an assisting one as well.
    assert 0.97 * generated.orders < generated.lead_rows <= generated.orders
    assert 0.05 * generated.lead_rows < generated.assisting_rows < 0.15 * generated.lead_rows
    assert 0.01 * generated.orders < generated.open_orders < 0.06 * generated.orders
    assert {"ix_work_orders_open_due", "ix_work_orders_content_trgm", "ix_order_departments_department_order"} \
        <= set(generated.index_seconds), "the secondary indexes are rebuilt after the load"
    assert len(report.results) == 13
    for measured in report.results:
        assert len(measured.seconds) == 2 and len(measured.baseline) == 1, measured.case.name
    by_name = {m.case.name: m for m in report.results}
    assert by_name["inbox, centre (open), page 1"].rows == [50, 50], "the centre sees a full page of open orders"
    assert by_name["search, order number"].rows == [1, 1], "an order number finds its one order"
    assert by_name["search, text (nowhere, 2 characters)"].rows == [0, 0], "no order has the word"
    assert all(rows >= 1 for rows in by_name["history(caller)"].rows), "a sampled caller has orders"
    assert "ix_work_orders_open_due" in report.plans["inbox of the centre, open orders, page 1"]
    assert "ix_work_orders_content_bigrams" in report.plans["search by the centre, a word in no order, 火星"]
