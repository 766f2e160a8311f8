"""`hotline report`: a report of any period on demand, as a file or as a summary; and the runs made so far.

    hotline report make monthly 2026-10 --format pdf --out /tmp/october.pdf
    hotline report make special 2026-10-01_2026-10-07 --format xlsx      (file name chosen: 12345-special-….xlsx)
    hotline report make daily                                             (yesterday, a summary on the terminal)
    hotline report runs
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.engine import with_store
from ivr.reports.builder import ReportMaker
from ivr.reports.labels import figure_rows, format_value
from ivr.reports.model import Report
from ivr.reports.runs import FORMATS, ReportRuns, Run, file_name
from ivr.settings import Settings
from routing import report_periods
from routing.report_periods import ReportPeriod

Command = Callable[[Any, str, str, Callable[[Settings, argparse.Namespace], int]], argparse.ArgumentParser]


def register(commands: Any, command: Command) -> None:
    group = commands.add_parser("report", help="reports: daily, weekly, monthly, special (docs/reports.md)") \
        .add_subparsers(title="actions")
    make = command(group, "make", "make a report now: a summary here, or a file (--format, --out)", cmd_make)
    make.add_argument("kind", choices=tuple(report_periods.KIND_NAMES))
    make.add_argument("period", nargs="?", default=None,
                      help="2026-10-05 (daily), 2026-W41 (weekly), 2026-10 (monthly), 2026-10-01_2026-10-07 "
                           "(special); default: the latest complete one")
    make.add_argument("--format", choices=(*FORMATS, "text"), default="text")
    make.add_argument("--out", type=Path, default=None, help="the file (default: its usual name, here)")
    command(group, "runs", "the reports the schedule and supervisors made, newest first", cmd_runs)


def period_of(settings: Settings, kind: str, value: str | None) -> ReportPeriod:
    if value is None:
        today = datetime.now(ZoneInfo(settings.timezone)).date()
        return report_periods.last_complete(kind, today, settings.timezone)
    return report_periods.parse(kind, value, settings.timezone)


def cmd_make(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        period = period_of(settings, arguments.kind, arguments.period)
    except report_periods.BadPeriod as exc:
        print(f"hotline report: {exc}")
        return 2

    async def make(maker: ReportMaker) -> Report:
        return await maker.make(period)

    report = asyncio.run(with_store(settings.database, lambda engine: ReportMaker(engine, settings), make))
    if arguments.format == "text":
        print(summary(report))
        return 0
    path = arguments.out or Path(file_name(period, arguments.format))
    path.write_bytes(FORMATS[arguments.format][0](report))
    print(f"{report.period.title}: {path}")
    return 0


def summary(report: Report) -> str:
    """The key figures (this period and the one before) and the department ranking, for a terminal."""
    lines = [report.period.title, f"  {'':<20} {'本期':>12} {'上期 ' + report.previous.label:>16}"]
    lines += [f"  {row.figure.name:<20} {format_value(row.current, row.figure.kind):>12} "
              f"{format_value(row.previous, row.figure.kind):>16}" for row in figure_rows(report)]
    lines += ["  部门考核"] + [f"  {row.rank:>3}. {row.name} {row.score:.1f}" for row in report.departments]
    return "\n".join(lines)


def cmd_runs(settings: Settings, arguments: argparse.Namespace) -> int:
    def runs_of(engine: AsyncEngine) -> ReportRuns:
        return ReportRuns(engine, ReportMaker(engine, settings), settings.data_dir / "reports")

    async def listing(runs: ReportRuns) -> list[Run]:
        return await runs.listing()

    for run in asyncio.run(with_store(settings.database, runs_of, listing)):
        files = ", ".join(str(settings.data_dir / "reports" / str(run.id) / name) for name in run.files)
        print(f"{run.id:>5} {run.kind:<8} {run.label:<24} {run.status:<8} {run.requested_by:<10} "
              f"{files or run.error or ''}")
    return 0
