"""The staffing plan over HTTP, for the centre's supervisors and administrators (anyone else: 403).

    GET /api/staffing?date=YYYY-MM-DD    the day's plan per half hour (default today, local time), the targets
                                         it is made for, and the current half hour's live figures beside today's
                                         plan (docs/staffing.md)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import keys
from ivr.settings import Settings
from ivr.staffing.errors import BadDate
from ivr.staffing.service import Forecast, NowFigures, forecast, now_figures
from ivr.web.roles import supervisor
from routing.staffing import SlotPlan


async def _supervisor(request: web.Request) -> None:
    await supervisor(request, "staffing is for the centre's supervisors and administrators")


def _day(request: web.Request, today: date) -> date:
    value = request.query.get("date")
    if value is None:
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadDate(f"date={value!r} is not a date (YYYY-MM-DD)", parameter="date") from None


async def staffing(request: web.Request) -> web.Response:
    await _supervisor(request)
    app, now = request.app, datetime.now(UTC)
    settings, engine, calendar = app[keys.SETTINGS], app[keys.ENGINE], app[keys.ORDERS].calendar
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    day = _day(request, today)
    wanted = await forecast(engine, settings, calendar, day)
    todays = wanted if day == today else await forecast(engine, settings, calendar, today)
    live = await now_figures(engine, settings, app[keys.AMI].queue_state, todays.slots, now)
    return web.json_response({**forecast_json(wanted, settings), "now": now_json(live)})


def forecast_json(plan: Forecast, settings: Settings) -> dict[str, Any]:
    return {
        "date": plan.day.isoformat(),
        "kind": "workday" if plan.workday else "day_off",
        "days_measured": plan.days_measured,
        "target": {
            "service_level": settings.reports.service_level_target,
            "seconds": settings.queue.service_level_seconds,
            "shrinkage": settings.reports.shrinkage,
            "weeks": settings.reports.staffing_weeks,
            "default_handle_seconds": settings.queue.default_handle_seconds,
        },
        "slots": [slot_json(slot) for slot in plan.slots],
    }


def slot_json(slot: SlotPlan) -> dict[str, Any]:
    staffing = slot.staffing
    return {
        "start": slot.start.strftime("%H:%M"),
        "calls": round(slot.calls, 2),
        "handle_seconds": round(slot.handle_seconds, 1),
        "traffic": round(staffing.traffic, 2),
        "agents": staffing.agents,
        "scheduled": staffing.scheduled,
        "service_level": round(staffing.service_level, 4),
        "asa_seconds": round(staffing.asa_seconds, 1),
        "occupancy": round(staffing.occupancy, 4),
        "wait_probability": round(staffing.wait_probability, 4),
    }


def now_json(live: NowFigures) -> dict[str, Any]:
    agents = live.agents
    return {
        "slot": live.slot.strftime("%H:%M"),
        "calls": live.calls,
        "expected_calls": round(live.expected_calls, 2),
        "agents_needed": live.agents_needed,
        "scheduled_needed": live.scheduled_needed,
        "short_by": live.short_by,
        "agents": {"logged_in": agents.logged_in, "available": agents.available, "on_calls": agents.on_calls,
                   "paused": agents.paused},
        "waiting": agents.waiting,
        "stale": agents.stale,
    }


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/staffing", staffing)
