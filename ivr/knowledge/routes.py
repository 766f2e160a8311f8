"""The knowledge base over HTTP: the centre searches it and logs each answer given from it; each department
keeps its own entries and sees those due for review.

    GET  /api/knowledge?q=…&topic=…&limit=…  search (centre)
    GET  /api/knowledge/{id}                 one entry (centre: any; a department: its own)
    POST /api/knowledge/{id}/use             {"call": uniqueid?, "order": id?}: an agent answered from it
    GET  /api/knowledge/review               the department's stale and due-soon entries
    POST /api/knowledge                      a new entry of the department's
    PUT  /api/knowledge/{id}                 the fields given replace the department's own entry's
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import keys
from ivr.db.limits import text_limits
from ivr.db.models import KnowledgeUse
from ivr.knowledge.entries import parse_entry
from ivr.knowledge.errors import BadEntry, NotForRole
from ivr.web.input import int_param
from ivr.web.json_body import json_object
from ivr.workorders.actors import Actor
from ivr.workorders.routes import current_actor

MAX_LIMIT = 50
USE_LIMITS = {"call": text_limits(KnowledgeUse)["call_uniqueid"]}


async def search(request: web.Request) -> web.Response:
    _centre(await current_actor(request))
    query, topic = request.query.get("q", ""), request.query.get("topic") or None
    if not query.strip() and not topic:
        raise BadEntry("give q (the words to look for) or topic (a catalogue code)", field="q")
    hits = await request.app[keys.KNOWLEDGE].search(query, _today(request), topic, _limit(request))
    return web.json_response({"q": query, "topic": topic, "entries": [hit.as_json() for hit in hits]})


async def show(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    department_id = _department(actor) if actor.in_department else None
    if department_id is None:
        _centre(actor)
    entry = await request.app[keys.KNOWLEDGE].entry(_entry_id(request), department_id, _today(request))
    return web.json_response(entry)


async def record_use(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    _centre(actor)
    data = await json_object(request, BadEntry, limits=USE_LIMITS)
    call, order = data.get("call"), data.get("order")
    if call is not None and (not isinstance(call, str) or not call):
        raise BadEntry("call must be the call's uniqueid (text)", field="call")
    if order is not None and (not isinstance(order, int) or isinstance(order, bool)):
        raise BadEntry("order must be a work order's id (a number)", field="order")
    entry_id = _entry_id(request)
    uses = await request.app[keys.KNOWLEDGE].record_use(entry_id, actor.id, datetime.now(UTC), call, order)
    return web.json_response({"entry": entry_id, "uses": uses}, status=201)


async def review(request: web.Request) -> web.Response:
    department_id = _department(await current_actor(request))
    entries = await request.app[keys.KNOWLEDGE].needing_review(department_id, _today(request))
    return web.json_response({"entries": entries})


async def create(request: web.Request) -> web.Response:
    department_id = _department(await current_actor(request))
    fields = parse_entry(await json_object(request, BadEntry))
    store = request.app[keys.KNOWLEDGE]
    entry_id = await store.create(department_id, fields, datetime.now(UTC))
    return web.json_response(await store.entry(entry_id, department_id, _today(request)), status=201)


async def edit(request: web.Request) -> web.Response:
    department_id = _department(await current_actor(request))
    store, entry_id = request.app[keys.KNOWLEDGE], _entry_id(request)
    await store.edit(entry_id, department_id, await json_object(request, BadEntry), datetime.now(UTC))
    return web.json_response(await store.entry(entry_id, department_id, _today(request)))


def _centre(actor: Actor) -> None:
    if not actor.in_centre:
        raise NotForRole("searching and using the knowledge base is for the centre's agents and supervisors")


def _department(actor: Actor) -> int:
    if not actor.in_department or actor.department_id is None:
        raise NotForRole("knowledge entries are kept by the users of the department that owns them")
    return actor.department_id


def _today(request: web.Request) -> date:
    """The centre's local date: an entry takes effect and falls due by the calendar on the centre's wall."""
    return datetime.now(ZoneInfo(request.app[keys.SETTINGS].timezone)).date()


def _entry_id(request: web.Request) -> int:
    return int_param(request, "id")


def _limit(request: web.Request) -> int:
    return int_param(request, "limit", default=10, low=1, high=MAX_LIMIT, error=BadEntry)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/knowledge", search)
    app.router.add_post("/api/knowledge", create)
    app.router.add_get("/api/knowledge/review", review)  # before /{id}, which would refuse "review" as an id
    app.router.add_get("/api/knowledge/{id}", show)
    app.router.add_put("/api/knowledge/{id}", edit)
    app.router.add_post("/api/knowledge/{id}/use", record_use)
