"""POST /api/call/handoff {"number": "110", "mode": "transfer" | "conference"}.

transfer: the caller the agent is talking to goes on to that number, the agent is free. conference: the
caller, the agent and the emergency service talk together (the agent explains the case); when the caller
hangs up, the conference ends for all.
"""

from __future__ import annotations

from aiohttp import web

from ivr import dialplan_variables as var
from ivr import keys
from ivr.agents.errors import AgentError, TelephonyUnavailable
from ivr.ami.errors import AmiError
from ivr.ami.originate import NotDialled, OutboundCall
from ivr.calls.tracker import CallRecord
from ivr.desk.routes import read_json
from ivr.settings import Settings
from ivr.web.auth import AGENT_ID

EMERGENCY_CONTEXT = "hotline-emergency"
CONFERENCE_CONTEXT = "hotline-conference"
MODES = ("transfer", "conference")
HANDOFF_RING_SECONDS = 60


class NotAnEmergencyNumber(AgentError):
    error_id = "not-an-emergency-number"


class BadHandoffMode(AgentError):
    error_id = "bad-handoff-mode"


class NoCallInProgress(AgentError):
    status = 409
    error_id = "no-call"


async def handoff(request: web.Request) -> web.Response:
    (number,) = await read_json(request, "number")
    mode = (await request.json()).get("mode") or "transfer"
    settings = request.app[keys.SETTINGS]
    if number not in settings.emergency.numbers:
        raise NotAnEmergencyNumber(f"{number} is not one of {', '.join(settings.emergency.numbers)}",
                                   number=number)
    if mode not in MODES:
        raise BadHandoffMode(f"mode {mode!r}: one of {', '.join(MODES)}", mode=str(mode))
    tracker = request.app[keys.TRACKER]
    call = tracker.answered_by(request[AGENT_ID])
    if call is None or call.channel is None or (mode == "conference" and call.agent_channel is None):
        raise NoCallInProgress("you have no call to hand off")
    try:
        if mode == "transfer":
            await request.app[keys.AMI].action(_transfer(call.channel, number))
        else:
            for action in _into_conference(call):
                await request.app[keys.AMI].action(action)
            await request.app[keys.ORIGINATOR].originate(_service_call(call, number, settings))
    except (AmiError, NotDialled) as exc:
        raise TelephonyUnavailable(f"hand-off to {number} failed: {exc}") from exc
    tracker.handed_off(call.uniqueid, number, request[AGENT_ID], mode)
    return web.json_response({"uniqueid": call.uniqueid, "handoff": number, "mode": mode})


def _transfer(channel: str, number: str) -> dict[str, str]:
    return {"Action": "Redirect", "Channel": channel, "Context": EMERGENCY_CONTEXT, "Exten": number, "Priority": "1"}


def _into_conference(call: CallRecord) -> list[dict[str, str]]:
    """Caller and agent into a conference named after the call (the service is dialled into it next)."""
    assert call.channel is not None and call.agent_channel is not None
    room = call.uniqueid
    return [
        {"Action": "Setvar", "Channel": call.channel, "Variable": var.CONFERENCE_ROLE, "Value": "caller"},
        {"Action": "Redirect", "Channel": call.channel, "Context": CONFERENCE_CONTEXT, "Exten": room, "Priority": "1",
         "ExtraChannel": call.agent_channel, "ExtraContext": CONFERENCE_CONTEXT, "ExtraExten": room,
         "ExtraPriority": "1"},
    ]


def _service_call(call: CallRecord, number: str, settings: Settings) -> OutboundCall:
    return OutboundCall(number, "handoff", CONFERENCE_CONTEXT, call.caller_number or settings.sip.hotline_number,
                        HANDOFF_RING_SECONDS, exten=call.uniqueid)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/call/handoff", handoff)
