"""Return visits end in the order's lifecycle and in the satisfaction rates (issue 6), on SQLite and PostgreSQL:
a satisfied answer closes the loop, "not solved, dissatisfied" reopens the order for re-handling, "solved but
dissatisfied" waits for the centre's review and may be appealed; an upheld appeal leaves the rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import OrderEvent, WorkOrder
from ivr.surveys.outcomes import OrderVisits
from ivr.surveys.results import rates
from ivr.surveys.store import Planned, SurveyStore
from ivr.workorders.actors import Actor
from ivr.workorders.service import OrderService
from routing import return_visits as visits
from tests.unit.test_order_service import AGENT, NOW, complaint, setup


async def visited(engine: AsyncEngine, loop: tuple[OrderService, Any, dict[str, Actor]], answers: dict[str, str],
                  caller: str) -> tuple[int, int, SurveyStore]:
    """A complaint handled by the urban department, closed, its visit planned and answered by phone."""
    service, _queries, staff = loop
    order = await service.create(complaint(caller_number=caller, call_uniqueid=None), AGENT, NOW)
    await service.act(order.id, "dispatch", AGENT, NOW)
    await service.act(order.id, "sign", staff["urban"], NOW)
    await service.act(order.id, "reply", staff["urban"], NOW, {"reply": "已修复"})
    await service.act(order.id, "close", AGENT, NOW)
    store = SurveyStore(engine)
    [unvisited] = [row for row in await store.closed_unvisited(10) if row.id == order.id]
    await store.plan_visits(order.id, unvisited.closed_at, [Planned(caller, visits.Step("call", NOW))], NOW)
    [survey] = await store.of_order(order.id)
    answered = await store.answer(survey.id, answers, "phone", NOW + timedelta(days=1))
    assert answered is not None and answered.status == "answered"
    assert await store.answer(survey.id, answers, "sms", NOW) is None, "a second answer changes nothing"
    assert await store.round_over(order.id, 1)
    await OrderVisits(store, service).round_ended(order.id)
    return order.id, survey.id, store


async def state_of(engine: AsyncEngine, order_id: int) -> tuple[str, bool | None, list[str]]:
    async with engine.connect() as connection:
        row = (await connection.execute(select(WorkOrder).where(WorkOrder.id == order_id))).one()
        actions = (await connection.execute(select(OrderEvent.action).where(OrderEvent.order_id == order_id)
                                            .order_by(OrderEvent.id))).scalars().all()
    return row.status, row.satisfied, list(actions)


async def test_visits_move_orders_on_and_feed_the_rates(engine: AsyncEngine) -> None:
    loop = await setup(engine)
    happy, _s1, store = await visited(engine, loop, {"solved": "yes", "rating": "very_satisfied"}, "13800000001")
    assert (await state_of(engine, happy))[:2] == ("evaluated", True)

    unsolved, _s2, _ = await visited(engine, loop, {"solved": "no", "rating": "dissatisfied"}, "13800000002")
    status, satisfied, actions = await state_of(engine, unsolved)
    assert status == "dispatched" and actions[-2:] == ["visit", "rehandle"], "re-handling opened by the system"

    review, appealed, _ = await visited(engine, loop, {"solved": "yes", "rating": "very_dissatisfied"}, "13800000003")
    status, satisfied, actions = await state_of(engine, review)
    assert (status, satisfied, actions[-1]) == ("visited", False, "review")

    since, until = NOW, NOW + timedelta(days=2)
    found = await rates(engine, since, until)
    assert found["overall"] == {"key": "all", "name": "全部", "answered": 3, "satisfied": 1, "rate": 0.3333}
    assert [(d["key"], d["answered"], d["satisfied"]) for d in found["departments"]] == [("urban", 3, 1)]
    assert [(a["key"], a["answered"]) for a in found["agents"]] == [("1001", 3)]

    assert await store.set_appeal(appealed, "none", "requested", "市民反映的是另一路段", NOW)
    assert not await store.set_appeal(appealed, "none", "requested", "again", NOW), "one appeal per rating"
    assert await store.set_appeal(appealed, "requested", "upheld", None, NOW)
    after = await rates(engine, since, until)
    assert (after["overall"]["answered"], after["overall"]["satisfied"]) == (2, 1), "an upheld appeal leaves the rate"


async def test_do_not_contact_ends_live_visits(engine: AsyncEngine) -> None:
    store = SurveyStore(engine)
    now = datetime.now(UTC)
    await store.add_do_not_contact("13900000009", "退订", "sms", now)
    await store.add_do_not_contact("13900000009", "again", "sms", now)
    assert await store.do_not_contact() == {"13900000009"}
    assert await store.remove_do_not_contact("13900000009")
    assert await store.do_not_contact() == set()
