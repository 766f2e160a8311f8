"""`hotline campaign …` through the real entry point (`ivr.cli.main`) against a test database (SQLite and
PostgreSQL): import with the problem lines printed, status of all and of one campaign (per unit asked, answered,
quota, satisfaction), start/pause/resume with refusals as a one-line error (exit 1), and both exports."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.cli import main
from ivr.surveys.store import SurveyStore
from ivr.workorders.directory import Directory

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
LIST = "号码,单位\n13900000001,urban\n13900000002,urban\nnot-a-number,water\n13900000003,water\n"


async def hotline(engine: AsyncEngine, data_dir: Path, capsys: pytest.CaptureFixture[str],
                  *arguments: str) -> tuple[int, str, str]:
    """`hotline --set … ARGUMENTS` in a thread (it runs its own event loop): exit code, stdout, stderr."""
    url = engine.url.render_as_string(hide_password=False)
    code = await asyncio.to_thread(main, ["--set", f"database_url={url}", "--set", f"data_dir={data_dir}",
                                          "--set", "log_level=WARNING", *arguments])
    out, err = capsys.readouterr()
    return code, out, err


async def test_a_campaign_is_imported_started_followed_and_exported_from_the_command_line(
        engine: AsyncEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = Directory(engine)
    await directory.add_department("urban", "城管局")
    await directory.add_department("water", "水务局")
    listed = tmp_path / "list.csv"
    listed.write_text(LIST, encoding="utf-8")

    code, out, _err = await hotline(engine, tmp_path, capsys, "campaign", "status")
    assert (code, out) == (0, "no campaign yet: hotline campaign import FILE --name … --script …\n")

    code, out, _err = await hotline(engine, tmp_path, capsys, "campaign", "import", str(listed), "--name", "评议",
                                    "--script", "public_evaluation", "--quota", "urban=1")
    assert code == 0
    assert out.splitlines() == [
        "[hotline] campaign 1 (评议) imported, ready to start: 3 number(s), 1 problem line(s)",
        "  line 4: 'not-a-number' holds more than digits"]

    code, out, err = await hotline(engine, tmp_path, capsys, "campaign", "pause", "1")
    assert (code, err) == (1, "hotline: only a running campaign can be paused; this one is ready\n")
    code, out, _err = await hotline(engine, tmp_path, capsys, "campaign", "start", "1")
    assert (code, out) == (0, "[hotline] campaign 1 (评议): running\n")

    surveys = SurveyStore(engine)
    first, second, _third = await surveys.due("call", NOW.replace(year=2100), 10)
    assert await surveys.claim_call(first, NOW)
    await surveys.answer(first.id, {"service": "very_satisfied", "efficiency": "satisfied"}, "phone", NOW)
    assert await surveys.claim_call(second, NOW)

    code, out, _err = await hotline(engine, tmp_path, capsys, "campaign", "status", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("campaign 1: 评议 · 政务服务评议 · 先电话后短信 · running · imported ")
    assert lines[0].endswith(" · 1 problem line(s) in its list") and "started " in lines[0]
    assert [line.split() for line in lines[1:]] == [
        ["unit", "numbers", "asked", "answered", "quota", "left", "satisfied", "name"],
        ["urban", "2", "2", "1", "1", "1", "100.0%", "城管局"],
        ["water", "1", "0", "0", "—", "1", "—", "水务局"],
        ["(all)", "3", "2", "1", "2", "2", "100.0%", "全部"],
    ]
    code, everything, _err = await hotline(engine, tmp_path, capsys, "campaign", "status")
    assert (code, everything) == (0, out)

    assert (await hotline(engine, tmp_path, capsys, "campaign", "pause", "1"))[:2] == (
        0, "[hotline] campaign 1 (评议): paused\n")
    assert (await hotline(engine, tmp_path, capsys, "campaign", "resume", "1"))[:2] == (
        0, "[hotline] campaign 1 (评议): running\n")
    code, _out, err = await hotline(engine, tmp_path, capsys, "campaign", "start", "7")
    assert (code, err) == (1, "hotline: no campaign 7\n")

    results, answers = tmp_path / "results.csv", tmp_path / "answers.csv"
    code, out, _err = await hotline(engine, tmp_path, capsys, "campaign", "export", "1", "--out", str(results))
    assert (code, out) == (0, f"[hotline] campaign 1: results per unit and question written to {results}\n")
    rows = list(csv.reader(io.StringIO(results.read_text(encoding="utf-8-sig"))))
    assert rows[1] == ["urban", "城管局", "服务满意度", "1", "1", "0", "0", "0", "0", "100.0%"]
    code, _out, _err = await hotline(engine, tmp_path, capsys, "campaign", "export", "1", "--answers",
                                     "--out", str(answers))
    rows = list(csv.reader(io.StringIO(answers.read_text(encoding="utf-8-sig"))))
    assert [row[:5] for row in rows[1:]] == [["2", "urban", "139****0001", "已回答", "1"],
                                             ["3", "urban", "139****0002", "通话中", "1"],
                                             ["5", "water", "139****0003", "待联系", "0"]]


async def test_bad_arguments_are_refused_before_anything_is_imported(
        engine: AsyncEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await Directory(engine).add_department("urban", "城管局")
    listed = tmp_path / "list.csv"
    listed.write_text(LIST, encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        await hotline(engine, tmp_path, capsys, "campaign", "import", str(listed), "--name", "x",
                      "--script", "public_evaluation", "--quota", "urban")
    assert exited.value.code == 2 and "quota 'urban' is not UNIT=N" in capsys.readouterr().err
    code, _out, err = await hotline(engine, tmp_path, capsys, "campaign", "import", str(listed), "--name", "x",
                                    "--script", "public_evaluation", "--quota", "roads=3")
    assert (code, err) == (1, "hotline: no unit 'roads' to set a quota for: units are department codes "
                              "(hotline department list)\n")
    listed.write_bytes(b"\x81\x20\xff\xfe")
    code, _out, err = await hotline(engine, tmp_path, capsys, "campaign", "import", str(listed), "--name", "x",
                                    "--script", "public_evaluation")
    assert code == 1 and "neither UTF-8 nor GB 18030" in err
    code, out, _err = await hotline(engine, tmp_path, capsys, "campaign", "status")
    assert out.startswith("no campaign yet")
