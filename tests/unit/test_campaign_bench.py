"""The campaign-import benchmark at a tiny size on SQLite and PostgreSQL, so that the script cannot rot unnoticed:
every method imports the same good rows and reports the same problem lines."""

from __future__ import annotations

from bench.campaign_import import BROKEN_EVERY, REPEATED_EVERY, number_list, parse, run


def problems_in(rows: int) -> int:
    """Broken rows, and repeated ones (a row that would be both is broken)."""
    both = BROKEN_EVERY * REPEATED_EVERY // 100  # the least common multiple of 500 and 700
    return rows // BROKEN_EVERY + rows // REPEATED_EVERY - rows // both


async def test_the_benchmark_imports_the_list_by_every_method_on_both_databases() -> None:
    arguments = parse(["--numbers", "1500", "--baseline-rows", "800", "--repeat", "2"])
    assert (arguments.numbers, arguments.baseline_rows, arguments.repeat) == (1500, 800, 2)
    results = await run(arguments.numbers, arguments.baseline_rows, arguments.repeat, ["sqlite", "postgresql"],
                        say=lambda _line: None)
    assert [(m.database, m.method, m.rows, len(m.seconds), m.imported, m.problems) for m in results] == [
        (database, method, rows, runs, rows - problems_in(rows), problems_in(rows))
        for database in ("sqlite", "postgresql")
        for method, rows, runs in (("row at a time", 800, 1), ("SQLAlchemy executemany", 1500, 2),
                                   ("ours (COPY / driver)", 1500, 2))]
    assert problems_in(1500) == 5
    row_at_a_time = results[0]
    assert row_at_a_time.median == row_at_a_time.seconds[0] * 1500 / 800, "scaled to the list's size"
    assert all(all(s > 0 for s in m.seconds) and len(m.stalls) == len(m.seconds) for m in results)


def test_the_generated_list_is_seeded_with_broken_and_repeated_rows() -> None:
    text = number_list(1400)
    assert text == number_list(1400)
    lines = text.splitlines()
    assert lines[0] == "号码,单位,姓名" and len(lines) == 1401
    assert len(lines[500].split(",")[0]) == 9, "row 500: a broken number"
    assert lines[700].split(",")[0] == lines[699].split(",")[0], "row 700 repeats row 699's number"
