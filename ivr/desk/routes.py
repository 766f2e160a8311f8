"""The desk's JSON API. Thin: parse, call the agent service, answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from ivr import keys
from ivr.agents.errors import AgentError, BadCredentials
from ivr.web.auth import AGENT_ID, log_out, session_response
from ivr.web.json_body import json_object
from ivr.web.logins import AGENT, AGENT_ID_LENGTH, LOGINS, SECRET_LENGTH, bounded, client_address
from routing.seats import PAUSE_REASONS

STATIC = Path(__file__).with_name("static")


async def read_json(request: web.Request, *names: str) -> list[str]:
    data = await json_object(request, AgentError)
    missing = [name for name in names if not isinstance(data.get(name), str) or not data[name]]
    if missing:
        raise AgentError(f"missing or empty: {', '.join(missing)}", fields=",".join(missing))
    return [data[name] for name in names]


async def create_session(request: web.Request) -> web.Response:
    agent_id, pin = await read_json(request, "agent_id", "pin")
    bounded(agent_id=(agent_id, AGENT_ID_LENGTH), pin=(pin, SECRET_LENGTH))
    store = request.app[keys.AGENT_STORE]
    agent = await request.app[LOGINS].throttle.attempt(AGENT, agent_id, client_address(request),
                                                       lambda: store.check_pin(agent_id, pin))
    if agent is None:
        raise BadCredentials("wrong agent id or PIN")
    return session_response(request.app[keys.SECRETS].web_secret, agent.id,
                            {"agent": {"id": agent.id, "name": agent.name}},
                            request.app[keys.SETTINGS].web.secure_cookies)


async def me(request: web.Request) -> web.Response:
    return web.json_response(await desk_state(request.app, request[AGENT_ID]))


async def seat_login(request: web.Request) -> web.Response:
    (seat,) = await read_json(request, "seat")
    await request.app[keys.AGENT_SERVICE].login(request[AGENT_ID], seat)
    return await me(request)


async def seat_logout(request: web.Request) -> web.Response:
    await request.app[keys.AGENT_SERVICE].logout(request[AGENT_ID])
    return await me(request)


async def pause(request: web.Request) -> web.Response:
    (reason,) = await read_json(request, "reason")
    await request.app[keys.AGENT_SERVICE].pause(request[AGENT_ID], reason)
    return await me(request)


async def resume(request: web.Request) -> web.Response:
    await request.app[keys.AGENT_SERVICE].resume(request[AGENT_ID])
    return await me(request)


async def desk_state(app: web.Application, agent_id: str) -> dict[str, Any]:
    """What the desk shows: who I am, my seat and its live state from Asterisk, the free seats."""
    # From the agent service: with the database away it answers from what it last read, so that a desk can
    # still pause, resume and log out (docs/operations.md, "Faults").
    agent = await app[keys.AGENT_SERVICE].agent(agent_id)
    if agent is None:
        raise BadCredentials(f"agent {agent_id} no longer exists")
    present = await app[keys.AGENT_SERVICE].presence()
    mine = present.get(agent_id)
    taken = {p.seat for p in present.values()}
    seat_state = None
    if mine is not None:
        member = app[keys.AMI].queue_state.seat(f"PJSIP/{mine.seat}")
        seat_state = member.status if member else "unknown"
    return {
        "agent": {"id": agent.id, "name": agent.name, "skills": agent.skills.split(",")},
        "seat": None if mine is None else {
            "number": mine.seat, "paused": mine.paused, "reason": mine.reason,
            "since": mine.since.isoformat(), "phone": seat_state,
        },
        "free_seats": [seat for seat in app[keys.SETTINGS].seat_numbers if seat not in taken],
        "pause_reasons": PAUSE_REASONS,
        "emergency_numbers": list(app[keys.SETTINGS].emergency.numbers),
    }


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """The desk listens here: its state first, then the screen-pops and seat changes as they happen."""
    socket = web.WebSocketResponse(heartbeat=20)
    await socket.prepare(request)
    detach = request.app[keys.DESK_HUB].attach(request[AGENT_ID], socket)
    try:
        await socket.send_json({"type": "state", **await desk_state(request.app, request[AGENT_ID])})
        async for _message in socket:
            pass  # the desk sends nothing on this socket; actions go through the JSON API
    finally:
        detach()
    return socket


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/session", create_session)
    app.router.add_delete("/api/session", log_out)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/seat", seat_login)
    app.router.add_delete("/api/seat", seat_logout)
    app.router.add_post("/api/seat/pause", pause)
    app.router.add_post("/api/seat/resume", resume)
    app.router.add_get("/desk", page)
    app.router.add_static("/desk/static", STATIC)
    app.router.add_get("/ws", websocket)
