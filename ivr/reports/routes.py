"""GET /api/reports/calls?from=…&to=…: the KPIs of a period, for supervisors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import keys
from ivr.agents.errors import AgentError
from ivr.reports.service import call_report
from ivr.web.auth import AGENT_ID


class Forbidden(AgentError):
    status = 403
    error_id = "forbidden"


class BadPeriod(AgentError):
    error_id = "bad-period"


async def require_supervisor(request: web.Request) -> None:
    agent = await request.app[keys.AGENT_STORE].get(request[AGENT_ID])
    if agent is None or agent.role != "supervisor":
        raise Forbidden("reports are for supervisors")


def _moment(request: web.Request, name: str, default: datetime) -> datetime:
    value = request.query.get(name)
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadPeriod(f"{name}={value!r} is not an ISO 8601 time", parameter=name) from None
    # A time typed without an offset is the centre's local time.
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(request.app[keys.SETTINGS].timezone))


async def calls(request: web.Request) -> web.Response:
    await require_supervisor(request)
    end = _moment(request, "to", datetime.now(UTC))
    start = _moment(request, "from", end - timedelta(hours=24))
    if start >= end:
        raise BadPeriod("'from' must be before 'to'")
    report = await call_report(request.app[keys.ENGINE], request.app[keys.SETTINGS], start, end)
    return web.json_response(report)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/reports/calls", calls)
