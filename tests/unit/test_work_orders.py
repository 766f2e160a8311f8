"""Work orders: the repeat caller's open order, looked up at every greeting; the orders of a call (a voicemail's
one draft: tests/unit/test_voicemail_store.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.workorders.actors import Actor
from ivr.workorders.service import Intake, OrderService
from ivr.workorders.store import WorkOrderStore
from tests.helpers import order_service

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def orders(engine: AsyncEngine) -> OrderService:
    return order_service(engine)


async def take(service: OrderService, caller: str, uniqueid: str, agent: str, content: str, at: datetime) -> int:
    order = await service.create(Intake("phone", content, caller_number=caller, call_uniqueid=uniqueid),
                                 Actor(agent, "agent"), at)
    return order.id


async def test_latest_open_is_the_callers_newest_order_in_the_window(engine: AsyncEngine) -> None:
    store, service = WorkOrderStore(engine), orders(engine)
    await take(service, "138", "1.1", "1001", "street light out", NOW - timedelta(days=2))
    await take(service, "138", "1.2", "1002", "still out", NOW)
    await take(service, "139", "1.3", "1003", "noise", NOW)

    newest = await store.latest_open("138", NOW - timedelta(days=7))
    assert newest is not None and (newest.agent, newest.content) == ("1002", "still out")
    assert await store.latest_open("138", NOW + timedelta(hours=1)) is None, "none since then"
    assert await store.latest_open("137", NOW - timedelta(days=7)) is None


async def test_one_call_may_bring_several_orders(engine: AsyncEngine) -> None:
    store, service = WorkOrderStore(engine), orders(engine)
    first = await take(service, "138", "2.1", "1001", "路灯不亮", NOW)
    second = await take(service, "138", "2.1", "1001", "还有噪音扰民", NOW)
    assert first != second
    found = await store.for_call("2.1")
    assert found is not None and found.id == second
