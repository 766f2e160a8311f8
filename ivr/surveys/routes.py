"""Survey results on the web: an order's return visits and answers, a department's appeal of a rating and the
centre's ruling, satisfaction rates per department and agent, and the do-not-contact list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import keys
from ivr.db.limits import text_limits
from ivr.db.models import DoNotContact, Survey
from ivr.surveys.results import order_rate, rates
from ivr.web.input import int_param
from ivr.workorders.actors import ADMINISTRATOR, SUPERVISOR, Actor, mask_number
from ivr.workorders.errors import ActionRefused, BadOrder, Forbidden, OrderNotFound
from ivr.workorders.routes import body_of, current_actor
from routing.numbers import BadNumber, normalise
from routing.survey import SATISFIED

APPEALABLE = "an appeal is for a dissatisfied rating not appealed before"


def _survey_json(survey: Survey, answers: dict[str, str], actor: Actor) -> dict[str, Any]:
    return {
        "id": survey.id, "round": survey.round, "number": survey.number if actor.in_centre else
        mask_number(survey.number), "status": survey.status, "next_action": survey.next_action,
        "next_at": survey.next_at.isoformat() if survey.next_at else None, "calls": survey.calls,
        "texted": survey.texted, "last_result": survey.last_result, "answered_via": survey.answered_via,
        "answered_at": survey.answered_at.isoformat() if survey.answered_at else None, "solved": survey.solved,
        "rating": survey.rating, "answers": answers, "comment_order_id": survey.comment_order_id,
        "appeal": survey.appeal, "appeal_reason": survey.appeal_reason,
    }


async def order_surveys(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    order_id = int_param(request, "order_id")
    await request.app[keys.ORDERS].load(order_id, actor)  # a department sees only its own orders
    store = request.app[keys.SURVEYS]
    surveys = await store.of_order(order_id)
    answers = await store.answers([survey.id for survey in surveys])
    return web.json_response({"surveys": [_survey_json(s, answers[s.id], actor) for s in surveys],
                              "satisfaction": order_rate(surveys)})


async def appeal(request: web.Request) -> web.Response:
    """A department appeals a rating it finds unreasonable (the citizen rated something outside its remit…)."""
    actor = await current_actor(request)
    if not actor.in_department:
        raise Forbidden("a rating is appealed by the department that handled the order")
    survey = await _survey_of_visible_order(request, actor)
    reason = str((await body_of(request)).get("reason", "")).strip()
    if not reason:
        raise BadOrder("an appeal says why the rating is unreasonable", field="reason")
    if survey.rating in SATISFIED or survey.rating is None or \
            not await request.app[keys.SURVEYS].set_appeal(survey.id, "none", "requested", reason, _now()):
        raise ActionRefused(f"survey {survey.id}: {APPEALABLE}", action="appeal")
    await request.app[keys.ORDERS].record(survey.order_id or 0, actor, "appeal", _now(), reason)
    return web.json_response({"appeal": "requested"})


async def rule_on_appeal(request: web.Request) -> web.Response:
    """The centre upholds an appeal (the rating no longer counts) or rejects it."""
    actor = await current_actor(request)
    if actor.role != SUPERVISOR:
        raise Forbidden("appeals are ruled on by the centre's supervisors")
    survey = await _survey_of_visible_order(request, actor)
    body = await body_of(request)
    decision = {"uphold": "upheld", "reject": "rejected"}.get(str(body.get("decision")))
    if decision is None:
        raise BadOrder("decision is uphold or reject", field="decision")
    if not await request.app[keys.SURVEYS].set_appeal(survey.id, "requested", decision, None, _now()):
        raise ActionRefused(f"survey {survey.id} has no appeal waiting (it is {survey.appeal})", action="appeal")
    await request.app[keys.ORDERS].record(survey.order_id or 0, actor, f"appeal_{decision}", _now(),
                                          str(body.get("note") or "") or None)
    return web.json_response({"appeal": decision})


async def _survey_of_visible_order(request: web.Request, actor: Actor) -> Survey:
    survey = await request.app[keys.SURVEYS].get(int_param(request, "survey_id"))
    if survey is None or survey.order_id is None:
        raise OrderNotFound(f"no return visit {request.match_info['survey_id']}")
    await request.app[keys.ORDERS].load(survey.order_id, actor)
    return survey


async def satisfaction(request: web.Request) -> web.Response:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (local days, both included; the last 30 days by default)."""
    actor = await current_actor(request)
    zone = ZoneInfo(request.app[keys.SETTINGS].timezone)
    try:
        today = datetime.now(zone).date()
        first = datetime.fromisoformat(request.query.get("from", (today - timedelta(days=29)).isoformat())).date()
        last = datetime.fromisoformat(request.query.get("to", today.isoformat())).date()
    except ValueError:
        raise BadOrder("from and to are dates such as 2026-11-30", field="from") from None
    since = datetime.combine(first, datetime.min.time(), zone)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    department = actor.department_id if actor.in_department else None
    if not (actor.in_centre or actor.in_department):
        raise Forbidden("satisfaction rates are for the centre and the departments")
    found = await rates(request.app[keys.ENGINE], since, until, department)
    return web.json_response({"from": first.isoformat(), "to": last.isoformat(), **found})


async def do_not_contact(request: web.Request) -> web.Response:
    actor = await _supervisor(request)
    store = request.app[keys.SURVEYS]
    if request.method == "GET":
        return web.json_response({"numbers": sorted(await store.do_not_contact())})
    body = await body_of(request, text_limits(DoNotContact))
    try:
        number = normalise(str(body.get("number", "")))
    except BadNumber as exc:
        raise BadOrder(str(exc), field="number") from None
    if request.method == "DELETE":
        return web.json_response({"removed": await store.remove_do_not_contact(number)})
    await store.add_do_not_contact(number, str(body.get("reason") or "asked by the citizen"), actor.id, _now())
    return web.json_response({"added": number})


async def _supervisor(request: web.Request) -> Actor:
    actor = await current_actor(request)
    if actor.role not in (SUPERVISOR, ADMINISTRATOR):
        raise Forbidden("the do-not-contact list is kept by supervisors")
    return actor


def _now() -> datetime:
    return datetime.now(UTC)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/orders/{order_id}/surveys", order_surveys)
    app.router.add_post("/api/surveys/{survey_id}/appeal", appeal)
    app.router.add_post("/api/surveys/{survey_id}/appeal/ruling", rule_on_appeal)
    app.router.add_get("/api/satisfaction", satisfaction)
    app.router.add_route("*", "/api/do-not-contact", do_not_contact)
