"""POST /api/call/handoff {"number": "110"}: the caller the agent is talking to goes to that number."""

from __future__ import annotations

from aiohttp import web

from ivr import keys
from ivr.agents.errors import AgentError, TelephonyUnavailable
from ivr.ami.errors import AmiError
from ivr.desk.routes import read_json
from ivr.web.auth import AGENT_ID

EMERGENCY_CONTEXT = "hotline-emergency"


class NotAnEmergencyNumber(AgentError):
    error_id = "not-an-emergency-number"


class NoCallInProgress(AgentError):
    status = 409
    error_id = "no-call"


async def handoff(request: web.Request) -> web.Response:
    (number,) = await read_json(request, "number")
    settings = request.app[keys.SETTINGS]
    if number not in settings.emergency.numbers:
        raise NotAnEmergencyNumber(f"{number} is not one of {', '.join(settings.emergency.numbers)}",
                                   number=number)
    tracker = request.app[keys.TRACKER]
    call = tracker.answered_by(request[AGENT_ID])
    if call is None or call.channel is None:
        raise NoCallInProgress("you have no call to hand off")
    try:
        await request.app[keys.AMI].action(
            {"Action": "Redirect", "Channel": call.channel, "Context": EMERGENCY_CONTEXT, "Exten": number,
             "Priority": "1"})
    except AmiError as exc:
        raise TelephonyUnavailable(f"hand-off to {number} failed: {exc}") from exc
    tracker.handed_off(call.uniqueid, number, request[AGENT_ID])
    return web.json_response({"uniqueid": call.uniqueid, "handoff": number})


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/call/handoff", handoff)
