"""POST /api/workorders {"content": …, "call": uniqueid?}: the agent takes an order from a call they answered.

The call is the agent's live call, or one they answered earlier (written during wrap-up). The order keeps
the agent: when the citizen calls again about it, the call is routed back to them (routing.repeat_days).
The full intake form, dispatch and deadlines come with the work-order capability.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ivr import keys
from ivr.agents.errors import AgentError
from ivr.desk.routes import read_json
from ivr.web.auth import AGENT_ID


class NotYourCall(AgentError):
    status = 404
    error_id = "not-your-call"


async def take_order(request: web.Request) -> web.Response:
    (content,) = await read_json(request, "content")
    agent_id = request[AGENT_ID]
    uniqueid, caller = await _answered_call(request, agent_id)
    order_id = await request.app[keys.WORK_ORDERS].add_from_call(caller, uniqueid, agent_id, content,
                                                                 datetime.now(UTC))
    return web.json_response({"id": order_id, "call": uniqueid, "caller": caller}, status=201)


async def _answered_call(request: web.Request, agent_id: str) -> tuple[str, str | None]:
    data = await request.json()
    asked = data.get("call") if isinstance(data.get("call"), str) else None
    live = request.app[keys.TRACKER].answered_by(agent_id)
    if live is not None and asked in (None, live.uniqueid):
        return live.uniqueid, live.caller_number
    if asked is not None:
        stored = await request.app[keys.CALL_STORE].get(asked)
        if stored is not None and stored.agent == agent_id:
            return stored.uniqueid, stored.caller_number
    raise NotYourCall("no call of yours to take an order from" + (f" (call {asked})" if asked else ""))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/workorders", take_order)
