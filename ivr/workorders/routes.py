"""The work-order API, for every role: agents file orders at intake, departments sign, reply, return and ask for
extensions, the centre dispatches, rules on returns and closes. Thin: who is asking, parse, call the service.

A department user's requests only ever see their department's orders: the service answers 404 for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from ivr import keys
from ivr.agents.errors import BadCredentials
from ivr.db.limits import text_limits
from ivr.db.models import WorkOrder
from ivr.web.auth import AGENT_ID, USER_ID, USER_PREFIX, log_out, session_response
from ivr.web.input import TooLarge, int_param
from ivr.web.json_body import json_object
from ivr.web.logins import LOGINS, SECRET_LENGTH, USER, USER_ID_LENGTH, bounded, client_address
from ivr.workorders.actors import Actor
from ivr.workorders.errors import BadOrder, Forbidden, OrderNotFound
from ivr.workorders.service import Intake
from routing import lifecycle
from routing.catalogue import suggest, suggest_type


async def current_actor(request: web.Request) -> Actor:
    """The session's person as an Actor: an agent or supervisor from the desk, or a web user."""
    if USER_ID in request:
        actor = await request.app[keys.DIRECTORY].actor(request[USER_ID])
        if actor is None:
            raise BadCredentials(f"user {request[USER_ID]} no longer exists or is disabled")
        return actor
    agent = await request.app[keys.AGENT_STORE].get(request[AGENT_ID])
    if agent is None:
        raise BadCredentials(f"agent {request[AGENT_ID]} no longer exists")
    return Actor(agent.id, agent.role)


ORDER_LIMITS = text_limits(WorkOrder)  # the intake form's and the edit's fields are the order's columns


async def body_of(request: web.Request, limits: Mapping[str, int] = ORDER_LIMITS) -> dict[str, Any]:
    return await json_object(request, BadOrder, limits=limits)


def _order_id(request: web.Request) -> int:
    return int_param(request, "order_id")


# Sessions for web users (department staff and admins, administrators)

async def user_login(request: web.Request) -> web.Response:
    data = await body_of(request)
    user, password = data.get("user"), data.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or not user or not password:
        raise BadOrder("user and password are required", field="user")
    bounded(user=(user, USER_ID_LENGTH), password=(password, SECRET_LENGTH))
    directory = request.app[keys.DIRECTORY]
    actor = await request.app[LOGINS].throttle.attempt(USER, user, client_address(request),
                                                       lambda: directory.check_password(user, password))
    if actor is None:
        raise BadCredentials("wrong user or password")
    return session_response(request.app[keys.SECRETS].web_secret, USER_PREFIX + actor.id,
                            {"user": await _who(request, actor)}, request.app[keys.SETTINGS].web.secure_cookies)


async def who_am_i(request: web.Request) -> web.Response:
    return web.json_response(await _who(request, await current_actor(request)))


async def _who(request: web.Request, actor: Actor) -> dict[str, Any]:
    mine = next((d for d in await request.app[keys.DIRECTORY].departments() if d.id == actor.department_id), None)
    return {"id": actor.id, "role": actor.role, "department": mine.name if mine else None,
            "department_code": mine.code if mine else None}


# Reading

async def inbox(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    page = await request.app[keys.ORDER_QUERIES].inbox(
        actor, await request.app[keys.DIRECTORY].department_names(), _page(request),
        done=request.query.get("box") == "done")
    return web.json_response({"items": page.items, "page": page.page, "more": page.more})


async def search(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = request.query
    page = await request.app[keys.ORDER_QUERIES].search(
        actor, await request.app[keys.DIRECTORY].department_names(), text=query.get("q", "").strip(),
        number=query.get("number", "").strip(), status=query.get("status", ""), page=_page(request))
    return web.json_response({"items": page.items, "page": page.page, "more": page.more})


def _page(request: web.Request) -> int:
    return int_param(request, "page", default=0, high=10_000, error=BadOrder)


async def detail(request: web.Request) -> web.Response:
    return web.json_response(await _detail(request, _order_id(request), await current_actor(request)))


async def _detail(request: web.Request, order_id: int, actor: Actor) -> dict[str, Any]:
    orders = request.app[keys.ORDERS]
    loaded = await orders.load(order_id, actor)
    if loaded.row.confidential or loaded.row.type == "report":
        await orders.record(order_id, actor, "view", datetime.now(UTC))
    names = await request.app[keys.DIRECTORY].department_names()
    return await request.app[keys.ORDER_QUERIES].detail(loaded.row, loaded.departments, actor, names)


# Changing

async def act(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    order_id, action = _order_id(request), request.match_info["action"]
    if action not in lifecycle.RULES:
        raise BadOrder(f"no action {action!r}", field="action")
    await request.app[keys.ORDERS].act(order_id, action, actor, datetime.now(UTC), await body_of(request))
    detail = await _detail(request, order_id, actor)
    if detail["channel"] == "voicemail":  # every desk's voicemail panel lists the drafts still to be handled
        request.app[keys.DESK_HUB].tell_everyone({"type": "voicemails"})
    return web.json_response(detail)


async def edit(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    order_id = _order_id(request)
    await request.app[keys.ORDERS].edit(order_id, actor, datetime.now(UTC), await body_of(request))
    return web.json_response(await _detail(request, order_id, actor))


async def publication(request: web.Request) -> web.Response:
    """POST {"public": true|false}: the centre shows the order on the public Open311 view, or takes it off."""
    actor = await current_actor(request)
    order_id = _order_id(request)
    public = (await body_of(request)).get("public")
    if not isinstance(public, bool):
        raise BadOrder("public is true (show the order on the public Open311 view) or false", field="public")
    await request.app[keys.ORDERS].publish(order_id, actor, datetime.now(UTC), public)
    return web.json_response(await _detail(request, order_id, actor))


async def file_order(request: web.Request) -> web.Response:
    """The agent's intake form: the order, and at once its dispatch or its closure from the knowledge base."""
    actor = await current_actor(request)
    if not actor.in_centre:
        raise Forbidden("orders are filed by the centre's agents")
    data = await body_of(request)
    call = await _answered_call(request, actor, data.get("call"))
    intake = Intake(
        channel="phone" if call else "web", content=_text(data, "content"), type=_text(data, "type") or "consultation",
        caller_number=call[1] if call else _text(data, "caller_number") or None,
        citizen_name=_text(data, "citizen_name") or None, confidential=bool(data.get("confidential")),
        topic=_text(data, "topic") or None, address=_text(data, "address") or None,
        call_uniqueid=call[0] if call else None)
    now = datetime.now(UTC)
    orders = request.app[keys.ORDERS]
    order = await orders.create(intake, actor, now)
    then = data.get("then")
    if then == "dispatch":
        await orders.act(order.id, "dispatch", actor, now, {
            "department": _text(data, "department"), "assisting": data.get("assisting") or [], "note": None})
    elif then == "close_at_intake":
        await orders.act(order.id, "close_at_intake", actor, now, {"reply": _text(data, "reply"),
                                                                    "knowledge_entry": data.get("knowledge_entry")})
    return web.json_response(await _detail(request, order.id, actor), status=201)


async def take_order(request: web.Request) -> web.Response:
    """POST /api/workorders {"content", "call"}: the short form (an order taken from the call, to dispatch later)."""
    actor = await current_actor(request)
    data = await body_of(request)
    uniqueid, caller = await _answered_call(request, actor, data.get("call")) or (None, None)
    if uniqueid is None:
        raise NotYourCall("no call of yours to take an order from")
    order = await request.app[keys.ORDERS].create(
        Intake("phone", _text(data, "content"), caller_number=caller, call_uniqueid=uniqueid), actor,
        datetime.now(UTC))
    return web.json_response({"id": order.id, "number": order.number, "call": uniqueid, "caller": caller},
                             status=201)


class NotYourCall(OrderNotFound):
    error_id = "not-your-call"


async def _answered_call(request: web.Request, actor: Actor, asked: object) -> tuple[str, str | None] | None:
    """The agent's live call, or one they answered earlier (the order is often written in wrap-up)."""
    asked = asked if isinstance(asked, str) and asked else None
    live = request.app[keys.TRACKER].answered_by(actor.id)
    if live is not None and asked in (None, live.uniqueid):
        return live.uniqueid, live.caller_number
    if asked is not None:
        stored = await request.app[keys.CALL_STORE].get(asked)
        if stored is not None and stored.agent == actor.id:
            return stored.uniqueid, stored.caller_number
        raise NotYourCall(f"call {asked} is not one you answered")
    return None


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadOrder(f"{name} must be text", field=name)
    return value.strip()


async def suggestion(request: web.Request) -> web.Response:
    """At intake: the catalogue entries the words point to, the order type, and open orders that may be the
    same request (same number, same address, same topic there)."""
    actor = await current_actor(request)
    if not actor.in_centre:
        raise Forbidden("suggestions are for the centre's agents")
    text, address = request.query.get("text", ""), request.query.get("address", "")
    catalogue = await request.app[keys.DIRECTORY].catalogue()
    found = suggest(text + " " + address, catalogue)
    settings = request.app[keys.SETTINGS].workorders
    topic = request.query.get("topic") or (found[0].entry.code if found else None)
    duplicates = await request.app[keys.ORDER_QUERIES].possible_duplicates(
        datetime.now(UTC), settings.duplicate_days, request.query.get("number") or None, address or None, topic)
    return web.json_response({
        "type": suggest_type(text),
        "topics": [{"code": s.entry.code, "topic": s.entry.topic, "department": s.entry.department,
                    "matched": list(s.matched)} for s in found],
        "duplicates": duplicates,
    })


async def notices(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return web.json_response(await request.app[keys.ORDER_QUERIES].notices(actor))


async def catalogue(request: web.Request) -> web.Response:
    await current_actor(request)
    entries = await request.app[keys.DIRECTORY].catalogue()
    return web.json_response([{"code": e.code, "topic": e.topic, "department": e.department,
                               "count_from": e.count_from, "emergency": e.emergency} for e in entries])


async def departments(request: web.Request) -> web.Response:
    await current_actor(request)
    rows = await request.app[keys.DIRECTORY].departments()
    codes = {d.id: d.code for d in rows}
    return web.json_response([{"code": d.code, "name": d.name, "kind": d.kind, "parent": codes.get(d.parent_id or 0)}
                              for d in rows])


MULTIPART_OVERHEAD = 64 * 1024  # the boundaries and part headers around the file
UPLOAD_CHUNK = 256 * 1024


async def attach(request: web.Request) -> web.Response:
    """A file of up to workorders.attachment_max_mb (20 MB), streamed past aiohttp's 1 MiB body limit; larger: 413."""
    actor = await current_actor(request)
    order_id = _order_id(request)
    limit = int(request.app[keys.SETTINGS].workorders.attachment_max_mb * 1024 * 1024)
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise _too_large(limit)
    if not request.content_type.startswith("multipart/"):
        raise BadOrder("send the file as multipart/form-data in a field named file", field="file")
    reader = await request.multipart()
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != "file" or not part.filename:
        raise BadOrder("send the file as multipart/form-data in a field named file", field="file")
    name = _file_name(part.filename)
    data = bytearray()
    while chunk := await part.read_chunk(UPLOAD_CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise _too_large(limit)
    await request.app[keys.ORDERS].attach(order_id, actor, name, part.headers.get("Content-Type", "")
                                          or "application/octet-stream", bytes(data), datetime.now(UTC))
    return web.json_response(await _detail(request, order_id, actor), status=201)


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"the file is over {limit / (1024 * 1024):g} MB, the most an order takes", field="file")


def _file_name(name: str) -> str:
    """A plain file name as the browser sends it: no folders, no control characters (NUL cannot be stored)."""
    if any(c in "/\\" or ord(c) < 32 or c == "\x7f" for c in name):
        raise BadOrder("the file name must be a plain name: no / or \\ and no control characters", field="file")
    return name


async def download(request: web.Request) -> web.StreamResponse:
    actor = await current_actor(request)
    row = await request.app[keys.ORDERS].attachment(_order_id(request), int_param(request, "attachment_id"), actor,
                                                    datetime.now(UTC))
    return web.FileResponse(row.path, headers={
        "Content-Type": row.content_type, "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.name)}",
        "X-Content-Type-Options": "nosniff"})


STATIC = Path(__file__).with_name("static")


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "orders.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/orders", page)
    app.router.add_static("/orders/static", STATIC)
    app.router.add_post("/api/portal/session", user_login)
    app.router.add_delete("/api/portal/session", log_out)
    app.router.add_get("/api/portal/me", who_am_i)
    app.router.add_get("/api/portal/notices", notices)
    app.router.add_get("/api/orders", inbox)
    app.router.add_post("/api/orders", file_order)
    app.router.add_get("/api/orders/search", search)
    app.router.add_get("/api/orders/suggestion", suggestion)
    app.router.add_get("/api/orders/{order_id}", detail)
    app.router.add_patch("/api/orders/{order_id}", edit)
    app.router.add_post("/api/orders/{order_id}/actions/{action}", act)
    app.router.add_post("/api/orders/{order_id}/publication", publication)
    app.router.add_post("/api/orders/{order_id}/attachments", attach)
    app.router.add_get("/api/orders/{order_id}/attachments/{attachment_id}", download)
    app.router.add_get("/api/catalogue", catalogue)
    app.router.add_get("/api/departments", departments)
    app.router.add_post("/api/workorders", take_order)
