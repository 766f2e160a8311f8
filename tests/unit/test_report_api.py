"""Reports through HTTP on the real stores (SQLite and PostgreSQL) and the schedule: a supervisor reads any period
as JSON and downloads it as PDF, XLSX and CSV that open and hold the figures (read back with pdftotext and
openpyxl); others are refused; a bad period says what was expected; a report asked for is archived with its
files; the schedule makes the day's, week's and month's reports once, catches up, and tries a failed one again."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import keys
from ivr.agents.store import AgentStore
from ivr.background import Background
from ivr.desk import routes as desk
from ivr.reports import routes
from ivr.reports.builder import ReportMaker
from ivr.reports.runs import ReportRuns, ReportScheduler
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.web.auth import CSRF_HEADER, auth_middleware
from ivr.web.logins import LOGINS, Logins
from ivr.workorders import routes as workorders
from ivr.workorders.directory import Directory
from tests.unit.test_report_figures import ZONE, _seed, local

SECRET = "reports-test-secret"
Client = TestClient[web.Request, web.Application]
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@dataclass
class Centre:
    app: web.Application
    server: TestServer
    opened: list[Client]

    async def client(self, user: str | None, password: str = "") -> Client:
        client: Client = TestClient(self.server)
        await client.start_server()
        self.opened.append(client)
        if user is not None:
            response = await client.post("/api/portal/session", json={"user": user, "password": password})
            assert response.status == 200, await response.text()
            client.session.headers[CSRF_HEADER] = (await response.json())["csrf"]
        return client


def _settings(tmp_path: Path) -> Settings:
    base = Settings()
    return dataclasses.replace(base, timezone=ZONE, data_dir=tmp_path,
                               reports=dataclasses.replace(base.reports, surge_min_count=2))


@pytest.fixture
async def centre(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Centre]:
    await _seed(engine)
    directory = Directory(engine)
    await directory.add_department("urban", "城管局")
    await directory.add_user("lead", "值班长", "supervisor", "lead-password-1", NOW)
    await directory.add_user("urban.li", "李", "department_staff", "urban-password-1", NOW, "urban")
    settings = _settings(tmp_path)
    app = web.Application(middlewares=[auth_middleware(SECRET)])
    app[LOGINS] = Logins.on(engine)
    app[keys.SETTINGS] = settings
    app[keys.SECRETS] = Secrets(ami_password="x", seat_passwords={}, web_secret=SECRET)
    app[keys.AGENT_STORE] = AgentStore(engine)
    app[keys.DIRECTORY] = directory
    app[keys.ENGINE] = engine
    app[keys.REPORT_MAKER] = maker = ReportMaker(engine, settings)
    app[keys.REPORT_RUNS] = ReportRuns(engine, maker, tmp_path / "reports")
    app[routes.ON_REQUEST] = Background("report run", logging.getLogger(__name__))
    workorders.setup_routes(app)
    desk.setup_routes(app)
    routes.setup_routes(app)
    server = TestServer(app)
    await server.start_server()
    centre = Centre(app, server, [])
    yield centre
    await app[routes.ON_REQUEST].close()
    for client in centre.opened:
        await client.close()
    await server.close()


async def test_a_supervisor_reads_a_day_and_downloads_it_as_files_that_hold_the_figures(centre: Centre) -> None:
    lead = await centre.client("lead", "lead-password-1")
    response = await lead.get("/api/reports", params={"kind": "daily", "period": "2026-10-09"})
    report = await response.json()
    assert response.status == 200, report
    assert report["period"]["title"] == "12345热线日报（2026年10月9日）"
    assert (report["calls"]["offered"], report["orders"]["received"]) == (8, 6)
    figures = {row[1]: row[2:] for row in report["view"]["figures"]}
    assert figures["接通率"] == ["37.5%", "100.0%", "-62.5个百分点"]
    assert figures["办结率"][0] == "40.0%"

    pdf = await lead.get("/api/reports/file", params={"kind": "daily", "period": "2026-10-09", "format": "pdf"})
    assert (pdf.status, pdf.content_type) == (200, "application/pdf")
    assert "12345-daily-2026-10-09.pdf" in pdf.headers["Content-Disposition"]
    text = await asyncio.to_thread(_pdf_text, await pdf.read())
    assert "12345热线日报" in text and "37.5%" in text and "市住建局" in text

    xlsx = await lead.get("/api/reports/file", params={"kind": "daily", "period": "2026-10-09", "format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(await xlsx.read()))
    cells = {row[1]: row[2] for row in book.worksheets[0].iter_rows(values_only=True) if len(row) > 2}
    assert cells["接通率"] == 0.375 and cells["受理量"] == 6

    text_csv = await lead.get("/api/reports/file", params={"kind": "daily", "period": "2026-10-09", "format": "csv"})
    rows = list(csv.reader(io.StringIO((await text_csv.read()).decode("utf-8-sig"))))
    assert any("呼入量" in row and "8" in row for row in rows)


async def test_others_are_refused_and_a_bad_period_says_what_is_expected(centre: Centre) -> None:
    assert (await (await centre.client(None)).get("/api/reports")).status == 401
    staff = await centre.client("urban.li", "urban-password-1")
    refused = await staff.get("/api/reports", params={"kind": "monthly"})
    assert (refused.status, (await refused.json())["error_id"]) == (403, "not-for-role")
    lead = await centre.client("lead", "lead-password-1")
    bad = await lead.get("/api/reports", params={"kind": "monthly", "period": "October"})
    body = await bad.json()
    assert (bad.status, body["error_id"], body["details"]) == (400, "bad-period", {"parameter": "period"})
    assert "2026-10" in body["message"]
    unknown = await lead.get("/api/reports/file", params={"kind": "daily", "format": "doc"})
    assert (unknown.status, (await unknown.json())["details"]) == (400, {"parameter": "format"})


async def test_a_report_asked_for_is_archived_with_its_files(centre: Centre) -> None:
    lead = await centre.client("lead", "lead-password-1")
    response = await lead.post("/api/reports/runs", json={"kind": "special", "period": "2026-10-01_2026-10-09"})
    run = await response.json()
    assert (response.status, run["status"], run["requested_by"]) == (202, "running", "lead")
    await centre.app[routes.ON_REQUEST].finish(timeout=60)
    runs = (await (await lead.get("/api/reports/runs")).json())["runs"]
    assert [(r["id"], r["status"], sorted(r["files"])) for r in runs] == [(run["id"], "done", [
        "12345-special-2026-10-01_2026-10-09.csv", "12345-special-2026-10-01_2026-10-09.json",
        "12345-special-2026-10-01_2026-10-09.pdf", "12345-special-2026-10-01_2026-10-09.xlsx"])]
    download = await lead.get(f"/api/reports/runs/{run['id']}/12345-special-2026-10-01_2026-10-09.pdf")
    assert download.status == 200 and (await download.read()).startswith(b"%PDF")
    missing = await lead.get(f"/api/reports/runs/{run['id']}/..%2Fsecrets.toml")
    assert missing.status == 404


async def test_the_schedule_makes_each_report_once_catches_up_and_retries_a_failure(
        engine: AsyncEngine, tmp_path: Path) -> None:
    await _seed(engine)
    settings = dataclasses.replace(_settings(tmp_path), reports=dataclasses.replace(
        _settings(tmp_path).reports, formats=("csv",)))
    runs = ReportRuns(engine, ReportMaker(engine, settings), tmp_path / "reports")
    clock = {"now": local(12, 0, 30)}  # Monday 12 October, 00:30: before the 01:00 schedule
    scheduler = ReportScheduler(settings, runs, now=lambda: clock["now"])
    made = [(period.kind, period.label) for period in await scheduler.tick()]
    # a week of days up to the 10th (the 11th is made at 01:00); of the weeks and months, those that end after
    # the first order (30 September): the week of 28 September (that of 5 October ends at midnight), September
    assert made == [("daily", f"2026-10-{day:02d}") for day in range(10, 3, -1)] + [
        ("weekly", "2026-W40"), ("monthly", "2026-09")]
    done = await runs.listing()
    assert {run.status for run in done} == {"done"}
    daily = next(run for run in done if run.label == "2026-10-09")
    lines = (tmp_path / "reports" / str(daily.id) / "12345-daily-2026-10-09.csv").read_text("utf-8-sig")
    assert "呼入量" in lines
    assert await scheduler.tick() == []  # made once

    clock["now"] = local(12, 1, 5)  # past 01:00 on Monday: the 11th and the week up to it are due
    assert [(p.kind, p.label) for p in await scheduler.tick()] == [("daily", "2026-10-11"), ("weekly", "2026-W41")]

    failing = ReportScheduler(settings, ReportRuns(engine, _Broken(engine, settings), tmp_path / "reports"),
                              now=lambda: clock["now"])
    clock["now"] = local(13, 1, 5)
    assert [(p.kind, p.label) for p in await failing.tick()] == [("daily", "2026-10-12")]
    failed = next(run for run in await runs.listing() if run.label == "2026-10-12")
    assert (failed.status, failed.error) == ("failed", "RuntimeError: the database went away")
    assert await failing.tick() == []  # not again at once
    clock["now"] += timedelta(hours=1, minutes=1)
    assert [(p.kind, p.label) for p in await scheduler.tick()] == [("daily", "2026-10-12")]


def _pdf_text(data: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return done.stdout.decode()


class _Broken(ReportMaker):
    async def make(self, period: Any, now: datetime | None = None) -> Any:
        raise RuntimeError("the database went away")
