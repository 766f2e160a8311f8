"""hotline-progress (工单进度查询) with a spec'd fake AgiCall and the real OrderService and OrderQueries, on
SQLite and PostgreSQL: what the caller hears, which orders they may hear, and the trace a query leaves."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, cast
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.store import CallStore
from ivr.calls.tracker import CallTracker
from ivr.db.models import OrderEvent, as_utc
from ivr.fastagi import AgiCall, AgiHangup, Router
from ivr.intake.context import CallContextFactory, Services
from ivr.progress.handlers import TIME_LIMIT_SECONDS, hotline_progress, register
from ivr.progress.speech import OrderProgress, due_prompts
from ivr.prompts.catalogue import PROMPTS
from ivr.settings import Settings
from ivr.workorders.actors import Actor
from ivr.workorders.directory import Directory
from ivr.workorders.queries import OrderQueries
from ivr.workorders.service import Intake, OrderService
from routing import lifecycle
from tests.helpers import order_service

UID = "1700000000.77"
CALLER = "13800138001"
NEIGHBOUR = "13900139002"
SOUNDS = PurePosixPath("/srv/hotline/t/sounds")
AGENT = Actor("1001", "agent")
SHANGHAI = ZoneInfo("Asia/Shanghai")
STEP = 5.0


async def orders_with_a_department(engine: AsyncEngine) -> OrderService:
    directory = Directory(engine)
    await directory.add_department("urban", "城管局")
    return order_service(engine, directory)


async def file_order(service: OrderService, caller: str, *actions: str, created: datetime | None = None,
                     **intake: Any) -> int:
    """An order from `caller`, taken by an agent and moved on by `actions` (dispatch → urban)."""
    now = created or datetime.now(UTC)
    order = await service.create(Intake("phone", "路灯不亮", caller_number=caller, **intake), AGENT, now)
    for action in actions:
        await service.act(order.id, action, AGENT, now, {"department": "urban"} if action == "dispatch" else {})
    return order.id


class Flow:
    """One run of hotline-progress: the fake call, the real context and services."""

    def __init__(self, engine: AsyncEngine | None, service: OrderService | Any | None, keys: list[str],
                 caller: str = CALLER, queries: Any = None) -> None:
        services = Services(Settings(), CallTracker("12345", "citizens", lambda row: None), cast(CallStore, None),
                            SOUNDS, orders=service,
                            order_queries=queries or (OrderQueries(engine) if engine else None))
        self.call: Any = mock.create_autospec(AgiCall, instance=True)
        self.call.uniqueid = UID
        self.call.caller_number = caller
        self.call.stream_file.return_value = ""
        self.call.get_data.side_effect = keys
        self.ctx = CallContextFactory(services)(self.call)

    async def run(self) -> None:
        async with asyncio.timeout(STEP):
            await hotline_progress(self.call, self.ctx)

    def heard(self) -> list[str]:
        """The prompts played or offered, in order, by name."""
        return [PurePosixPath(c.args[0]).name for c in self.call.mock_calls if c[0] in {"stream_file", "get_data"}]


async def queries_on(engine: AsyncEngine, order_id: int) -> list[tuple[str, str, str, str | None]]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(OrderEvent.actor, OrderEvent.role, OrderEvent.action,
                                                OrderEvent.note).where(OrderEvent.order_id == order_id,
                                                                       OrderEvent.action == "progress_query"))).all()
    return [(row.actor, row.role, row.action, row.note) for row in rows]


def digits(number: str) -> list[str]:
    return [f"digit-{d}" for d in number]


async def number_and_due(engine: AsyncEngine, order_id: int) -> tuple[str, datetime]:
    service = order_service(engine)
    row = (await service.load(order_id, AGENT)).row
    return row.number, as_utc(row.due_at).astimezone(SHANGHAI)


async def test_the_callers_newest_order_is_read_out_recorded_and_the_menu_offered(engine: AsyncEngine) -> None:
    service = await orders_with_a_department(engine)
    await file_order(service, CALLER, "dispatch", created=datetime.now(UTC) - timedelta(days=1))
    newest = await file_order(service, CALLER, "dispatch", call_uniqueid="1.2")
    flow = Flow(engine, service, [""])
    await flow.run()

    number, due = await number_and_due(engine, newest)
    assert flow.heard() == ["progress-latest", *digits(number), "progress-state-dispatched", "progress-due",
                            f"month-{due.month}", f"day-{due.day}", "progress-due-end", "progress-menu"]
    flow.call.stream_file.assert_any_await(f"{SOUNDS}/progress-latest", "10")  # a menu key stops the reading
    flow.call.get_data.assert_awaited_once_with(f"{SOUNDS}/progress-menu", 5000, 1)
    assert await queries_on(engine, newest) == [("phone", "citizen", "progress_query", UID)]


async def test_a_caller_without_orders_hears_so_and_no_trace_is_left(engine: AsyncEngine) -> None:
    service = await orders_with_a_department(engine)
    other = await file_order(service, NEIGHBOUR)
    flow = Flow(engine, service, ["0"])
    await flow.run()
    assert flow.heard() == ["progress-none", "progress-menu"]
    assert await queries_on(engine, other) == []


@pytest.mark.parametrize("protection", [{"confidential": True}, {"type": "report"}], ids=["confidential", "report"])
async def test_a_confidential_or_report_order_is_not_read_by_the_calling_number_alone(
        engine: AsyncEngine, protection: dict[str, Any]) -> None:
    service = await orders_with_a_department(engine)
    protected = await file_order(service, CALLER, **protection)
    flow = Flow(engine, service, [""])
    await flow.run()
    assert flow.heard() == ["progress-none", "progress-menu"], "not even that an order exists"
    assert await queries_on(engine, protected) == []


async def test_a_keyed_number_of_the_callers_own_confidential_order_is_read(engine: AsyncEngine) -> None:
    service = await orders_with_a_department(engine)
    protected = await file_order(service, CALLER, "dispatch", confidential=True, type="report")
    number, due = await number_and_due(engine, protected)
    flow = Flow(engine, service, ["1", number, "0"])
    await flow.run()

    assert flow.heard() == ["progress-none", "progress-menu", "progress-enter-number", "progress-requested",
                            *digits(number), "progress-state-dispatched", "progress-due", f"month-{due.month}",
                            f"day-{due.day}", "progress-due-end", "progress-menu"]
    flow.call.get_data.assert_any_await(f"{SOUNDS}/progress-enter-number", 5000, 20)
    assert await queries_on(engine, protected) == [("phone", "citizen", "progress_query", UID)]


async def test_another_citizens_order_number_is_refused_like_a_number_that_does_not_exist(
        engine: AsyncEngine) -> None:
    service = await orders_with_a_department(engine)
    foreign = await file_order(service, NEIGHBOUR, "dispatch")
    foreign_number, _due = await number_and_due(engine, foreign)
    flow = Flow(engine, service, ["1", foreign_number, "1", "20991231999999", ""])
    await flow.run()

    assert flow.heard() == ["progress-none", "progress-menu", "progress-enter-number", "progress-not-found",
                            "progress-menu", "progress-enter-number", "progress-not-found", "progress-menu"]
    assert await queries_on(engine, foreign) == []


async def test_an_unidentified_caller_hears_no_order_even_one_filed_without_a_number(engine: AsyncEngine) -> None:
    service = await orders_with_a_department(engine)
    anonymous = await file_order(service, "anonymous", "dispatch")
    number, _due = await number_and_due(engine, anonymous)
    flow = Flow(engine, service, ["1", number, ""], caller="anonymous")
    await flow.run()
    assert flow.heard() == ["progress-none", "progress-menu", "progress-enter-number", "progress-not-found",
                            "progress-menu"]
    assert await queries_on(engine, anonymous) == []


async def test_a_menu_key_during_the_reading_skips_the_rest(engine: AsyncEngine) -> None:
    service = await orders_with_a_department(engine)
    await file_order(service, CALLER, "dispatch")
    flow = Flow(engine, service, [])
    flow.call.stream_file.side_effect = ["", "0"]  # "0" during the first digit: straight to the agents
    await flow.run()
    assert flow.heard() == ["progress-latest", "digit-2"]
    flow.call.get_data.assert_not_awaited()


async def test_one_call_asks_for_at_most_three_other_orders(engine: AsyncEngine) -> None:
    service = await orders_with_a_department(engine)
    flow = Flow(engine, service, ["1", "1", "1", "1", "1", "1", "1"])
    await flow.run()
    assert flow.heard().count("progress-enter-number") == 3
    assert flow.heard()[-1] == "progress-not-found", "then on to the agents"


async def test_the_caller_hanging_up_during_the_reading_leaves_the_trace_and_ends_the_flow(
        engine: AsyncEngine) -> None:
    service = await orders_with_a_department(engine)
    order = await file_order(service, CALLER)
    flow = Flow(engine, service, [])
    flow.call.stream_file.side_effect = ["", AgiHangup("channel hung up while playing digit-2")]
    with pytest.raises(AgiHangup):  # the FastAGI server logs it as a hang-up, not an error
        await flow.run()
    assert await queries_on(engine, order) == [("phone", "citizen", "progress_query", UID)]


async def test_finished_orders_are_read_with_their_state_and_without_a_date(engine: AsyncEngine) -> None:
    service = await orders_with_a_department(engine)
    order = await service.create(Intake("phone", "问社保", caller_number=CALLER), AGENT, datetime.now(UTC))
    await service.act(order.id, "close_at_intake", AGENT, datetime.now(UTC), {"reply": "已解答"})
    flow = Flow(engine, service, [""])
    await flow.run()
    assert flow.heard()[-2:] == ["progress-state-closed", "progress-menu"]


class Unavailable:
    """The work-order database, slow or failing."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error

    async def history(self, caller_number: str, limit: int = 10) -> list[Any]:
        if self.error is not None:
            raise self.error
        await asyncio.Event().wait()  # never answers
        return []


@pytest.mark.parametrize("database", [Unavailable(), Unavailable(OperationalError("SELECT", {}, Exception("gone"))),
                                      Unavailable(ConnectionRefusedError(111, "refused"))],
                         ids=["slow", "sqlalchemy", "oserror"])
async def test_a_slow_or_absent_database_is_announced_and_the_caller_goes_on(database: Unavailable) -> None:
    flow = Flow(None, None, [], queries=database)
    await flow.run()
    assert flow.heard() == ["progress-unavailable"]


async def test_the_route_has_its_own_time_limit() -> None:
    router: Router[Any] = Router()
    register(router)
    assert router.resolve("hotline-progress") is hotline_progress
    assert router.time_limit("hotline-progress", 20.0) == TIME_LIMIT_SECONDS > 20.0
    assert router.time_limit("hotline-intake", 20.0) == 20.0


# What is said: static prompts only, all generated at setup


def test_every_state_and_every_piece_said_has_a_prompt() -> None:
    states = {rule.target for rule in lifecycle.RULES.values() if rule.target} | {lifecycle.DRAFT}
    needed = {f"progress-state-{state}" for state in states} | {f"digit-{d}" for d in range(10)} \
        | {f"month-{m}" for m in range(1, 13)} | {f"day-{d}" for d in range(1, 32)}
    assert needed <= PROMPTS.keys()
    assert (PROMPTS["digit-1"], PROMPTS["month-12"], PROMPTS["day-21"], PROMPTS["day-30"]) == \
        ("幺", "十二月", "二十一日", "三十日")


def test_the_due_date_is_the_centres_local_date_and_a_past_one_is_not_read() -> None:
    now = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    late_on_the_30th_utc = OrderProgress(1, "1", "signed", datetime(2026, 11, 30, 16, 30))  # naive, as SQLite
    assert due_prompts(late_on_the_30th_utc, now, SHANGHAI) == ["progress-due", "month-12", "day-1",
                                                                 "progress-due-end"]
    past = OrderProgress(1, "1", "signed", datetime(2026, 11, 24, tzinfo=UTC))
    assert due_prompts(past, now, SHANGHAI) == ["progress-overdue"]
    closed = OrderProgress(1, "1", "closed", datetime(2026, 12, 24, tzinfo=UTC))
    assert due_prompts(closed, now, SHANGHAI) == []
