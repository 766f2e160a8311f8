"""ivr.staffing on the real database (SQLite and PostgreSQL): the plan from the calls of past days of the same
kind (National Day 2026 is a day off, Saturday 10 October a make-up working day), bucketed by local half hour
(a call at 23:59:50 local is in its day's 23:30; one at local midnight opens its day), refused calls and the
day itself left out; the live figures of the current half hour; GET /api/staffing for supervisors only, a bad
date 400; `hotline staffing`'s table. Expected values are computed by hand in the comments."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import keys
from ivr.agents.store import AgentStore
from ivr.ami.client import AmiClient
from ivr.ami.queue_state import QueueState
from ivr.db.models import Call
from ivr.desk import routes as desk
from ivr.secrets import Secrets
from ivr.settings import Settings, WorkOrderSettings
from ivr.staffing import routes
from ivr.staffing.admin import cmd_staffing
from ivr.staffing.service import calls_since, forecast, live_agents, now_figures, same_kind_days
from ivr.web.auth import auth_middleware
from ivr.web.logins import LOGINS, Logins
from ivr.workorders import routes as workorders
from ivr.workorders.directory import Directory
from ivr.workorders.service import OrderService, calendar_of

ZONE = ZoneInfo("Asia/Shanghai")
SECRET = "staffing-test-secret"
Client = TestClient[web.Request, web.Application]
SETTINGS = dataclasses.replace(Settings(), reports=dataclasses.replace(Settings().reports, staffing_weeks=2))
CALENDAR = calendar_of(SETTINGS.workorders)

# (local start, outcome, talk seconds)
CALLS = [
    (datetime(2026, 10, 8, 9, 5), "answered", 200.0),
    (datetime(2026, 10, 8, 9, 20), "abandoned", None),
    (datetime(2026, 10, 9, 9, 29, 59, 600000), "answered", 100.0),  # still 9:00 (PostgreSQL must not round up)
    (datetime(2026, 10, 10, 9, 10), "answered", 300.0),  # the make-up Saturday: a working day
    (datetime(2026, 10, 10, 9, 12), "refused", None),  # not offered
    (datetime(2026, 10, 9, 23, 59, 50), "answered", 50.0),  # 15:59:50 UTC: the 23:30 slot of 10-09
    (datetime(2026, 10, 8, 0, 0), "answered", 60.0),  # 10-07 16:00 UTC: the 00:00 slot of 10-08
    (datetime(2026, 10, 7, 23, 59, 59), "answered", 40.0),  # the last holiday's 23:30
    (datetime(2026, 10, 1, 9, 10), "answered", 999.0),  # National Day
    (datetime(2026, 10, 12, 9, 1), "answered", 30.0),  # the planned day itself: not its own evidence
    (datetime(2026, 10, 12, 9, 5), "refused", None),
    (datetime(2026, 10, 12, 8, 59), "abandoned", None),
]


async def insert_calls(engine: AsyncEngine) -> None:
    rows = [{"uniqueid": f"call-{number}", "started_at": local.replace(tzinfo=ZONE).astimezone(UTC),
             "ended_at": local.replace(tzinfo=ZONE).astimezone(UTC), "outcome": outcome, "talk_seconds": talk}
            for number, (local, outcome, talk) in enumerate(CALLS)]
    async with engine.begin() as connection:
        await connection.execute(insert(Call), rows)


def seats(*members: tuple[str, str, str], waiting: int = 0) -> QueueState:
    """A queue state as Asterisk's QueueStatus reports it: the seats in the seat queue, callers in a line's."""
    state = QueueState()
    messages: list[dict[str, str]] = [{"Event": "QueueParams", "Queue": SETTINGS.direct_queue}]
    messages += [{"Event": "QueueMember", "Queue": SETTINGS.direct_queue, "Interface": interface, "Status": status,
                  "Paused": paused} for interface, status, paused in members]
    messages += [{"Event": "QueueEntry", "Queue": "hotline-general", "Uniqueid": f"w{i}"} for i in range(waiting)]
    state.replace(messages)
    return state


def test_past_days_of_the_same_kind() -> None:
    # Two weeks before Monday 10-12: 9-28…9-30 and 10-08…10-10 (a Saturday worked) are working days; the
    # National Day week (10-01…10-07), Sunday 9-27 and 10-11 are days off.
    assert same_kind_days(date(2026, 10, 12), 2, CALENDAR) == [
        date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 8), date(2026, 10, 9),
        date(2026, 10, 10)]
    assert same_kind_days(date(2026, 10, 11), 1, CALENDAR) == [date(2026, 10, d) for d in (4, 5, 6, 7)]
    assert not calendar_of(WorkOrderSettings(holidays=("2026-10-14",)))(date(2026, 10, 14))


async def test_a_working_days_plan(engine: AsyncEngine) -> None:
    await insert_calls(engine)
    plan = await forecast(engine, SETTINGS, CALENDAR, date(2026, 10, 12))
    # Working days with calls: 10-08, 10-09, 10-10 (9-28…9-30 had none, so say nothing): 3.
    assert (plan.workday, plan.days_measured, len(plan.slots)) == (True, 3, 48)
    slots = {slot.start: slot for slot in plan.slots}
    # 9:00: 4 offered (the refused one aside) over 3 days; 3 answered: (200 + 100 + 300 + 3 × 10 wrap-up) / 3 = 210 s.
    # A = 4/3 × 210 / 1800 = 0.156 E. One agent: SL(15) = 1 − 0.156·e^(−0.844·15/210) = 0.854 < 0.9; two: 0.990.
    # On the rota with 25 % shrinkage: 2 / 0.75 = 2.67 → 3.
    nine = slots[time(9, 0)]
    assert (nine.calls, nine.handle_seconds) == (pytest.approx(4 / 3), pytest.approx(210.0))
    assert (nine.staffing.agents, nine.staffing.scheduled) == (2, 3)
    assert nine.staffing.service_level == pytest.approx(0.990, abs=0.0005)
    assert (slots[time(23, 30)].calls, slots[time(23, 30)].handle_seconds) == (pytest.approx(1 / 3), 60.0)
    assert (slots[time(0, 0)].calls, slots[time(0, 0)].handle_seconds) == (pytest.approx(1 / 3), 70.0)
    assert slots[time(15, 30)].calls == slots[time(9, 30)].calls == slots[time(8, 30)].calls == 0.0
    assert slots[time(9, 30)].staffing.agents == 0


async def test_a_day_offs_plan_is_made_from_the_holidays(engine: AsyncEngine) -> None:
    await insert_calls(engine)
    plan = await forecast(engine, SETTINGS, CALENDAR, date(2026, 10, 11))
    # Days off before Sunday 10-11: 9-27, 10-01…10-07; with calls: 10-01 and 10-07 → 2.
    assert (plan.workday, plan.days_measured) == (False, 2)
    slots = {slot.start: slot for slot in plan.slots}
    assert (slots[time(9, 0)].calls, slots[time(9, 0)].handle_seconds) == (0.5, 1009.0)
    assert (slots[time(23, 30)].calls, slots[time(23, 30)].handle_seconds) == (0.5, 50.0)
    assert slots[time(0, 0)].calls == 0.0


async def test_no_past_days_of_the_kind_plan_nobody(engine: AsyncEngine) -> None:
    await insert_calls(engine)
    # One week before Thursday 10-08: all National Day, no working day at all.
    one_week = dataclasses.replace(SETTINGS, reports=dataclasses.replace(SETTINGS.reports, staffing_weeks=1))
    plan = await forecast(engine, one_week, CALENDAR, date(2026, 10, 8))
    assert plan.days_measured == 0
    assert {slot.staffing.agents for slot in plan.slots} == {0}


async def test_the_current_half_hours_figures(engine: AsyncEngine) -> None:
    await insert_calls(engine)
    today = (await forecast(engine, SETTINGS, CALENDAR, date(2026, 10, 12))).slots
    state = seats(("PJSIP/8001", "2", "0"), ("PJSIP/8002", "1", "1"), waiting=1)
    now = datetime(2026, 10, 12, 9, 10, tzinfo=ZONE)
    figures = await now_figures(engine, SETTINGS, state, today, now)
    # Since 9:00: the 9:01 call (9:05 was refused, 8:59 is the half hour before).
    assert (figures.slot, figures.calls) == (time(9, 0), 1)
    assert (figures.expected_calls, figures.agents_needed, figures.scheduled_needed) == (pytest.approx(4 / 3), 2, 3)
    agents = figures.agents
    assert (agents.logged_in, agents.available, agents.on_calls, agents.paused, agents.waiting) == (2, 0, 1, 1, 1)
    # Two wanted on the phones, one logged in and not paused.
    assert figures.short_by == 1


async def test_calls_since_counts_from_the_start_to_before_the_end(engine: AsyncEngine) -> None:
    await insert_calls(engine)
    start = datetime(2026, 10, 8, 0, 0, tzinfo=ZONE)
    assert await calls_since(engine, start, datetime(2026, 10, 8, 9, 20, tzinfo=ZONE)) == 2  # 0:00 and 9:05
    assert await calls_since(engine, start, datetime(2026, 10, 8, 9, 20, 1, tzinfo=ZONE)) == 3


def test_live_agents_without_the_seat_queue_yet() -> None:
    agents = live_agents(QueueState(), SETTINGS.direct_queue)
    assert (agents.logged_in, agents.waiting, agents.stale) == (0, 0, True)


async def test_the_cli_prints_the_plan(engine: AsyncEngine) -> None:
    await insert_calls(engine)
    settings = dataclasses.replace(SETTINGS, database_url=engine.url.render_as_string(hide_password=False))
    out = io.StringIO()
    code = await asyncio.to_thread(cmd_staffing, settings, argparse.Namespace(date=date(2026, 10, 12)), out)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0].startswith("staffing plan for 2026-10-12 (working day), from 3 past day(s)")
    assert "target 90% answered within 15 s, shrinkage 25%" in lines[0]
    assert len(lines) == 2 + 48
    assert lines[2 + 18].split() == ["09:00", "1.3", "210", "0.16", "2", "3", "99.0%", "1.3", "7.8%"]


# HTTP


@pytest.fixture
async def centre(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    directory = Directory(engine)
    await directory.add_department("urban", "城管局")
    await directory.add_user("urban.li", "李", "department_staff", "urban-password-1", datetime.now(UTC), "urban")
    agents = AgentStore(engine)
    pins = {"1001": await agents.add("1001", "坐席一号"), "1901": await agents.add("1901", "班长", role="supervisor")}
    app = web.Application(middlewares=[auth_middleware(SECRET)])
    app[LOGINS] = Logins.on(engine)
    app[keys.SETTINGS], app[keys.ENGINE] = SETTINGS, engine
    app[keys.SECRETS] = Secrets(ami_password="x", seat_passwords={}, web_secret=SECRET)
    app[keys.AGENT_STORE], app[keys.DIRECTORY] = agents, directory
    app[keys.ORDERS] = OrderService(engine, directory, SETTINGS.workorders, SETTINGS.timezone, tmp_path / "files")
    app[keys.AMI] = AmiClient(SETTINGS.ami, "x", seats(("PJSIP/8001", "1", "0"), waiting=2))
    workorders.setup_routes(app)
    desk.setup_routes(app)  # the agents' log-in
    routes.setup_routes(app)
    server = TestServer(app)
    await server.start_server()
    opened: list[Client] = []

    async def client(who: str | None) -> Client:
        session: Client = TestClient(server)
        await session.start_server()
        opened.append(session)
        if who is not None:
            path, body = (("/api/session", {"agent_id": who, "pin": pins[who]}) if who in pins else
                          ("/api/portal/session", {"user": who, "password": "urban-password-1"}))
            assert (await session.post(path, json=body)).status == 200
        return session

    yield {"client": client}
    for session in opened:
        await session.close()
    await server.close()


async def test_a_supervisor_gets_the_plan_beside_the_live_figures(centre: dict[str, Any], engine: AsyncEngine) -> None:
    await insert_calls(engine)
    lead = await centre["client"]("1901")
    response = await lead.get("/api/staffing", params={"date": "2026-10-12"})
    body = await response.json()
    assert response.status == 200, body
    assert (body["date"], body["kind"], body["days_measured"]) == ("2026-10-12", "workday", 3)
    assert body["target"] == {"service_level": 0.9, "seconds": 15, "shrinkage": 0.25, "weeks": 2,
                              "default_handle_seconds": 180}
    nine = body["slots"][18]
    assert (nine["start"], nine["calls"], nine["handle_seconds"], nine["agents"], nine["scheduled"]) == (
        "09:00", 1.33, 210.0, 2, 3)
    now = body["now"]
    assert now["agents"] == {"logged_in": 1, "available": 1, "on_calls": 0, "paused": 0}
    assert (now["waiting"], now["stale"]) == (2, False)
    assert now["slot"] in {slot["start"] for slot in body["slots"]}


async def test_the_kind_of_a_make_up_saturday_and_a_holiday(centre: dict[str, Any]) -> None:
    lead = await centre["client"]("1901")
    kinds = [(await (await lead.get("/api/staffing", params={"date": day})).json())["kind"]
             for day in ("2026-10-10", "2026-10-01")]
    assert kinds == ["workday", "day_off"]


async def test_others_are_refused_and_a_bad_date_named(centre: dict[str, Any]) -> None:
    agent, department, nobody = (await centre["client"]("1001"), await centre["client"]("urban.li"),
                                 await centre["client"](None))
    refused = await agent.get("/api/staffing")
    assert (refused.status, (await refused.json())["error_id"]) == (403, "not-for-role")
    assert (await department.get("/api/staffing")).status == 403
    assert (await nobody.get("/api/staffing")).status == 401
    lead = await centre["client"]("1901")
    bad = await lead.get("/api/staffing", params={"date": "2026-13-01"})
    body = await bad.json()
    assert (bad.status, body["error_id"], body["details"]) == (400, "bad-date", {"parameter": "date"})
