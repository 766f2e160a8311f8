"""Report files made by the schedule (daily, weekly, monthly) or on request, each run a row in report_runs and
a folder data_dir/reports/<run id>/ with the report in every format asked for.

The schedule makes the latest complete periods (and catches up on those missed while the server was away, a
week of days, four weeks, two months back) once the local clock passes `reports.schedule_time`; a run that
failed is tried again an hour later; the row says why it failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.db.engine import DATABASE_ERRORS
from ivr.db.models import Call, ReportRun, WorkOrder, as_utc
from ivr.reports.builder import ReportMaker
from ivr.reports.export import to_csv, to_pdf, to_xlsx
from ivr.reports.model import Report
from ivr.settings import Settings
from routing import report_periods
from routing.report_periods import ReportPeriod

logger = logging.getLogger(__name__)
SCHEDULE = "schedule"
RETRY_AFTER = timedelta(hours=1)
CATCH_UP = {report_periods.DAILY: 7, report_periods.WEEKLY: 4, report_periods.MONTHLY: 2}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS: dict[str, tuple[Callable[[Report], bytes], str]] = {
    "pdf": (to_pdf, "application/pdf"),
    "xlsx": (to_xlsx, XLSX),
    "csv": (to_csv, "text/csv; charset=utf-8"),
    "json": (lambda report: json.dumps(report.as_json(), ensure_ascii=False, indent=1).encode(), "application/json"),
}


def file_name(period: ReportPeriod, form: str) -> str:
    return f"12345-{period.kind}-{period.label}.{form}"


async def render(report: Report, form: str) -> bytes:
    """The report as a file's bytes; made in a thread (the PDF's charts take a second of CPU)."""
    make, _ = FORMATS[form]
    return await asyncio.get_running_loop().run_in_executor(None, make, report)


@dataclass(frozen=True)
class Run:
    id: int
    kind: str
    label: str
    status: str
    files: list[str]
    error: str | None
    requested_by: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "status": self.status, "files": self.files,
                "error": self.error, "requested_by": self.requested_by, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None, "seconds": self.seconds}


def _run(row: Any) -> Run:
    return Run(row.id, row.kind, row.label, row.status, json.loads(row.files), row.error, row.requested_by,
               as_utc(row.started_at), as_utc(row.finished_at) if row.finished_at else None, row.seconds)


class ReportRuns:
    def __init__(self, engine: AsyncEngine, maker: ReportMaker, folder: Path) -> None:
        self.engine = engine
        self.maker = maker
        self.folder = folder

    async def listing(self, limit: int = 200) -> list[Run]:
        query = select(ReportRun).order_by(ReportRun.id.desc()).limit(limit)
        async with self.engine.connect() as connection:
            return [_run(row) for row in await connection.execute(query)]

    async def get(self, run_id: int) -> Run | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(ReportRun).where(ReportRun.id == run_id))).first()
        return _run(row) if row else None

    def path(self, run: Run, name: str) -> Path | None:
        return self.folder / str(run.id) / name if name in run.files else None

    async def begin(self, period: ReportPeriod, requested_by: str, now: datetime) -> int:
        """A run row in state running: new, or the earlier run of the same report by the same requester."""
        values = {"kind": period.kind, "label": period.label, "period_start": period.start.astimezone(UTC),
                  "period_end": period.end.astimezone(UTC), "status": "running", "files": "[]", "error": None,
                  "requested_by": requested_by, "started_at": now, "finished_at": None, "seconds": None}
        try:
            async with self.engine.begin() as connection:
                inserted = await connection.execute(insert(ReportRun).values(**values).returning(ReportRun.id))
                return int(inserted.scalar_one())
        except IntegrityError:
            same = (ReportRun.kind == period.kind, ReportRun.label == period.label,
                    ReportRun.requested_by == requested_by)
            async with self.engine.begin() as connection:
                run_id = int((await connection.execute(select(ReportRun.id).where(*same))).scalar_one())
                await connection.execute(update(ReportRun).where(ReportRun.id == run_id).values(**values))
            return run_id

    async def make(self, run_id: int, period: ReportPeriod, forms: tuple[str, ...]) -> None:
        """Builds the report and writes its files; the row ends done, or failed with the reason."""
        began = clock.perf_counter()
        try:
            report = await self.maker.make(period)
            names = [await self._write(run_id, report, period, form) for form in forms]
        except Exception as exc:  # the row must say why: a failed run is tried again and shown on the page
            logger.exception("report %s %s (run %d) failed", period.kind, period.label, run_id)
            await self._end(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
            return
        await self._end(run_id, status="done", files=json.dumps(names),
                        seconds=round(clock.perf_counter() - began, 3))
        logger.info("report %s %s made (run %d): %s", period.kind, period.label, run_id, ", ".join(names))

    async def _write(self, run_id: int, report: Report, period: ReportPeriod, form: str) -> str:
        folder = self.folder / str(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        data = await render(report, form)
        name = file_name(period, form)
        await asyncio.get_running_loop().run_in_executor(None, _write_atomically, folder / name, data)
        return name

    async def _end(self, run_id: int, **values: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(ReportRun).where(ReportRun.id == run_id)
                                     .values(finished_at=datetime.now(UTC), **values))

    async def counts(self, connection: AsyncConnection) -> dict[tuple[str, ...], float]:
        """Runs by kind and state, for /metrics (a few rows a day: no index needed)."""
        query = select(ReportRun.kind, ReportRun.status, func.count()).group_by(ReportRun.kind, ReportRun.status)
        return {(kind, status): float(count) for kind, status, count in await connection.execute(query)}

    async def scheduled(self) -> dict[tuple[str, str], Run]:
        query = select(ReportRun).where(ReportRun.requested_by == SCHEDULE)
        async with self.engine.connect() as connection:
            return {(row.kind, row.label): _run(row) for row in await connection.execute(query)}

    async def first_activity(self) -> datetime | None:
        """The earliest call or order: no report is made of a time before the hotline ran."""
        async with self.engine.connect() as connection:
            moments = [(await connection.execute(select(func.min(column)))).scalar_one()
                       for column in (Call.started_at, WorkOrder.created_at)]
        known = [as_utc(moment) for moment in moments if moment is not None]
        return min(known) if known else None

    def remove_older_than(self, cutoff: datetime, runs: list[Run]) -> None:
        for run in runs:
            if run.finished_at is not None and run.finished_at < cutoff:
                shutil.rmtree(self.folder / str(run.id), ignore_errors=True)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


class ReportScheduler:
    def __init__(self, settings: Settings, runs: ReportRuns, now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.runs = runs
        self.now = now or (lambda: datetime.now(UTC))

    async def run(self, interval: float = 60.0) -> None:
        while True:
            try:
                await self.tick()
            except DATABASE_ERRORS as exc:
                logger.warning("report schedule: database unavailable, trying again (%s)", exc)
            await asyncio.sleep(interval)

    async def tick(self) -> list[ReportPeriod]:
        """Makes every scheduled report that is due and not made yet; returns their periods."""
        now = self.now()
        known = await self.runs.scheduled()
        self.runs.remove_older_than(now - timedelta(days=self.settings.reports.keep_days), list(known.values()))
        due = [period for period in self.due_periods(now) if _wanted(known.get((period.kind, period.label)), now)]
        first = await self.runs.first_activity() if due else None
        due = [period for period in due if first is not None and period.end > first]
        for period in due:
            run_id = await self.runs.begin(period, SCHEDULE, now)
            await self.runs.make(run_id, period, self.settings.reports.formats)
        return due

    def due_periods(self, now: datetime) -> list[ReportPeriod]:
        """The periods the schedule should have made by `now`, latest first per kind."""
        zone = self.settings.timezone
        local = now.astimezone(ZoneInfo(zone))
        hours, minutes = (int(part) for part in self.settings.reports.schedule_time.split(":"))
        today = local.date() if local.time() >= time(hours, minutes) else local.date() - timedelta(days=1)
        periods = []
        for kind, count in CATCH_UP.items():
            latest = report_periods.last_complete(kind, today, zone)
            for _ in range(count):
                periods.append(latest)
                latest = latest.previous()
        return periods


def _wanted(run: Run | None, now: datetime) -> bool:
    if run is None:
        return True
    if run.status == "done":
        return False
    # failed, or still "running" because the server stopped during it: again a while after it began
    return run.started_at + RETRY_AFTER <= now
