"""Reports over HTTP, for the centre's supervisors and administrators (anyone else: 403).

    GET  /reports                                   the page
    GET  /api/reports?kind=monthly&period=2026-10   a report as JSON (kinds and period forms: routing.report_periods),
                                                    with "view": its tables named and formatted as the files show them
    GET  /api/reports/file?kind=…&period=…&format=pdf|xlsx|csv|json   the report made now, as a download
    GET  /api/reports/runs                          reports made by the schedule and on request, newest first
    POST /api/reports/runs {kind, period}           make one in the background (all formats): 202 with its run
    GET  /api/reports/runs/{id}/{file}              a file of a run
    GET  /api/reports/calls?from=…&to=…             the call KPIs of any times, with the agents' times
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import keys
from ivr.agents.errors import AgentError
from ivr.background import Background
from ivr.reports.runs import FORMATS, ReportRuns, file_name, render
from ivr.reports.service import call_report
from ivr.reports.view import view
from ivr.web.input import int_param
from ivr.web.json_body import json_object
from ivr.web.roles import supervisor
from ivr.workorders.actors import Actor
from routing import report_periods
from routing.report_periods import ReportPeriod

STATIC = Path(__file__).with_name("static")
ON_REQUEST = web.AppKey("report_requests", Background)


class BadPeriod(AgentError):
    error_id = "bad-period"


class NoSuchRun(AgentError):
    status = 404
    error_id = "no-such-report"


async def require_supervisor(request: web.Request) -> Actor:
    return await supervisor(request, "reports are for the centre's supervisors and administrators")


def _period(request: web.Request, values: dict[str, object] | None = None) -> ReportPeriod:
    source = values if values is not None else request.query
    kind, value = str(source.get("kind") or "daily"), source.get("period")
    timezone = request.app[keys.SETTINGS].timezone
    if value is None:  # the latest complete one
        if kind == report_periods.SPECIAL:
            raise BadPeriod("a special report names its days: period=2026-10-01_2026-10-07", parameter="period")
        today = datetime.now(ZoneInfo(timezone)).date()
        try:
            return report_periods.last_complete(kind, today, timezone)
        except report_periods.BadPeriod as exc:
            raise BadPeriod(str(exc), parameter="kind") from None
    try:
        return report_periods.parse(kind, str(value), timezone)
    except report_periods.BadPeriod as exc:
        raise BadPeriod(str(exc), parameter="period") from None


async def report(request: web.Request) -> web.Response:
    await require_supervisor(request)
    made = await request.app[keys.REPORT_MAKER].make(_period(request))
    return web.json_response(made.as_json() | {"view": view(made)})


async def report_file(request: web.Request) -> web.Response:
    await require_supervisor(request)
    period, form = _period(request), request.query.get("format", "pdf")
    if form not in FORMATS:
        raise BadPeriod(f"format {form!r}: expected one of {', '.join(FORMATS)}", parameter="format")
    data = await render(await request.app[keys.REPORT_MAKER].make(period), form)
    return _download(data, file_name(period, form), FORMATS[form][1])


def _download(data: bytes, name: str, content_type: str) -> web.Response:
    response = web.Response(body=data, content_type=content_type.split(";")[0])
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


async def runs(request: web.Request) -> web.Response:
    await require_supervisor(request)
    return web.json_response({"runs": [run.as_json() for run in await request.app[keys.REPORT_RUNS].listing()]})


async def request_run(request: web.Request) -> web.Response:
    actor = await require_supervisor(request)
    period = _period(request, await json_object(request, BadPeriod))
    store: ReportRuns = request.app[keys.REPORT_RUNS]
    run_id = await store.begin(period, actor.id, datetime.now(UTC))
    request.app[ON_REQUEST].spawn(store.make(run_id, period, tuple(FORMATS)))
    run = await store.get(run_id)
    assert run is not None
    return web.json_response(run.as_json(), status=202)


async def run_file(request: web.Request) -> web.FileResponse:
    await require_supervisor(request)
    store: ReportRuns = request.app[keys.REPORT_RUNS]
    run = await store.get(int_param(request, "run_id"))
    path = store.path(run, request.match_info["name"]) if run else None
    if path is None or not path.exists():
        raise NoSuchRun(f"no file {request.match_info['name']!r} in report run {request.match_info['run_id']}")
    content_type = FORMATS[path.suffix.lstrip(".")][1]
    return web.FileResponse(path, headers={"Content-Type": content_type,
                                           "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name)}"})


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
    made = await call_report(request.app[keys.ENGINE], request.app[keys.SETTINGS], start, end)
    return web.json_response(made)


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "reports.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/reports", page)
    app.router.add_static("/reports/static", STATIC)
    app.router.add_get("/api/reports", report)
    app.router.add_get("/api/reports/file", report_file)
    app.router.add_get("/api/reports/runs", runs)
    app.router.add_post("/api/reports/runs", request_run)
    app.router.add_get("/api/reports/runs/{run_id}/{name}", run_file)
    app.router.add_get("/api/reports/calls", calls)
