"""Every report figure on a small generated data set whose values were worked out by hand (on SQLite and
PostgreSQL): calls over midnight, calls still in progress, refused calls, reopened and merged orders, drafts,
an order dispatched before the National Day holiday, returns and repeat requests."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import Call, CatalogueEntry, Department, OrderDepartment, OrderEvent, Survey, WorkOrder
from ivr.reports.builder import ReportMaker
from ivr.reports.queries import call_counts
from ivr.reports.terms import TermIndexer
from ivr.settings import Settings
from ivr.workorders.service import calendar_of
from routing import report_periods
from routing.deadlines import deadline
from routing.kpi import CallFacts, count_calls

ZONE = "Asia/Shanghai"
SHANGHAI = ZoneInfo(ZONE)


def local(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(UTC)


def _call(uniqueid: str, started: datetime, outcome: str, wait: float | None = None, talk: float | None = None,
          ended: bool = True, rating: str | None = None) -> dict[str, Any]:
    return {"uniqueid": uniqueid, "caller_number": "13800000000", "started_at": started, "outcome": outcome,
            "wait_seconds": wait, "talk_seconds": talk, "rating": rating, "line": "hotline-general",
            "ended_at": started.replace(microsecond=0) if ended else None}


CALLS = [
    _call("c1", local(9, 9), "answered", wait=10, talk=100, rating="satisfied"),
    _call("c2", local(9, 9, 5), "answered", wait=20, talk=200),
    _call("c3", local(9, 10), "abandoned", wait=3),
    _call("c4", local(9, 10, 10), "abandoned", wait=40),
    _call("c5", local(9, 11), "refused"),
    _call("c6", local(9, 23, 59, 50), "answered", wait=20, talk=60),  # answered after midnight: still the 9th's
    _call("c7", local(8, 23, 59, 55), "answered", wait=5, talk=30),  # answered on the 9th: the 8th's
    _call("c8", local(9, 12), "hung_up_before_queue"),
    _call("c9", local(9, 15), "in_progress", ended=False),  # not over: not counted yet
    _call("c10", local(9, 13), "timed_out", wait=300),
    _call("c11", local(9, 14), "voicemail", wait=30),
]


def _order(number: str, created: datetime, status: str, **fields: Any) -> dict[str, Any]:
    return {"number": number, "created_at": created, "status": status, "source": "phone", "type": "complaint",
            "caller_number": "13900000000", "returns": 0, "final_ruling": False, "extension": "none",
            "confidential": False, "content": None, "topic": None, "closed_at": None, "dispatched_at": None,
            "due_at": None, "merged_into_id": None, "lead_department_id": None} | fields


async def _seed(engine: AsyncEngine) -> None:
    calendar = calendar_of(Settings().workorders)
    before_holiday = deadline(datetime(2026, 9, 30, 10, tzinfo=SHANGHAI), 3, ZONE, is_workday=calendar)
    assert before_holiday.date().isoformat() == "2026-10-10"  # 1–7 October are days off: 3 working days later
    async with engine.begin() as connection:
        await connection.execute(insert(Call), CALLS)
        await connection.execute(insert(Department), [{"code": "zj", "name": "市住建局"},
                                                      {"code": "cg", "name": "市城管局"}])
        zj, cg = [(await connection.execute(select(Department.id).where(Department.code == code))).scalar_one()
                  for code in ("zj", "cg")]
        await connection.execute(insert(CatalogueEntry), [
            {"code": "wuye", "topic": "物业管理", "department_code": "zj", "keywords": "物业"},
            {"code": "ludeng", "topic": "路灯", "department_code": "cg", "keywords": "路灯"}])
        await connection.execute(insert(WorkOrder), [
            # o1: a consultation answered on the call (closed at intake): completed on time, first-call resolved
            _order("o1", local(9, 9, 1), "evaluated", type="consultation", closed_at=local(9, 9, 3),
                   content="咨询公积金提取"),
            # o2: a help request dispatched, not done: first-call eligible, not resolved
            _order("o2", local(9, 9, 10), "dispatched", type="help", dispatched_at=local(9, 9, 12),
                   due_at=local(12, 18), lead_department_id=zj, content="小区物业不作为"),
            # o3: a complaint replied and closed on time; o5 was merged into it
            _order("o3", local(9, 10), "closed", caller_number="13811111111", topic="wuye",
                   dispatched_at=local(9, 10, 5), due_at=local(9, 18), closed_at=local(9, 17, 30),
                   lead_department_id=zj, content="小区物业乱收费"),
            # o4: the same citizen on the same topic later that day (a repeat), from the web; returned once by
            # the 城管局, then sent to the 住建局
            _order("o4", local(9, 11), "dispatched", source="web", caller_number="13811111111", topic="wuye",
                   dispatched_at=local(9, 11, 30), due_at=local(10, 18), returns=1, lead_department_id=zj,
                   content="物业乱收费 还是没人管"),
            # o5: merged into o3
            _order("o5", local(9, 12), "merged", caller_number="13822222222", topic="wuye", 
                   content="物业乱收费"),
            # o6, o7: a draft and a discarded draft: not requests
            _order("o6", local(9, 13), "draft", source="voicemail"),
            _order("o7", local(9, 13, 5), "discarded", source="voicemail"),
            # o8: closed on time in the morning, visited, the citizen dissatisfied: re-handled (重办) at 15:00
            _order("o8", local(9, 8), "dispatched", topic="ludeng", dispatched_at=local(9, 15),
                   due_at=local(14, 18), lead_department_id=cg, content="路灯不亮"),
            # o9: received the day before, due at 9:00, closed at 10:00: overdue on the 9th
            _order("o9", local(8, 9), "closed", dispatched_at=local(8, 9, 30), due_at=local(9, 9),
                   closed_at=local(9, 10), lead_department_id=cg, content="路灯不亮"),
            # o10: dispatched before the National Day holiday, closed on the 9th, before its deadline
            _order("o10", local(30, 10, month=9), "closed", dispatched_at=local(30, 10, month=9),
                   due_at=before_holiday.astimezone(UTC), closed_at=local(9, 16), lead_department_id=zj,
                   content="路灯不亮"),
        ])
        numbered = await connection.execute(select(WorkOrder.number, WorkOrder.id))
        ids = {number: order_id for number, order_id in numbered}
        await connection.execute(update(WorkOrder).where(WorkOrder.id == ids["o5"]).values(merged_into_id=ids["o3"]))
        await connection.execute(insert(OrderDepartment), [{"replied_at": None, "done": False} | row for row in [
            {"order_id": ids["o2"], "department_id": zj, "role": "lead", "dispatched_at": local(9, 9, 12),
             "due_at": local(12, 18)},
            {"order_id": ids["o3"], "department_id": zj, "role": "lead", "dispatched_at": local(9, 10, 5),
             "due_at": local(9, 18), "replied_at": local(9, 17), "done": True},
            # o4: returned by the 城管局 (taken off without a reply), then with the 住建局
            {"order_id": ids["o4"], "department_id": cg, "role": "lead", "dispatched_at": local(9, 11, 10),
             "due_at": local(10, 18), "done": True},
            {"order_id": ids["o4"], "department_id": zj, "role": "lead", "dispatched_at": local(9, 11, 30),
             "due_at": local(10, 18)},
            # o8: re-handled: the 城管局's row starts again at 15:00
            {"order_id": ids["o8"], "department_id": cg, "role": "lead", "dispatched_at": local(9, 15),
             "due_at": local(14, 18)},
            {"order_id": ids["o9"], "department_id": cg, "role": "lead", "dispatched_at": local(8, 9, 30),
             "due_at": local(9, 9), "replied_at": local(9, 9, 50), "done": True},
            {"order_id": ids["o10"], "department_id": zj, "role": "lead", "dispatched_at": local(30, 10, month=9),
             "due_at": before_holiday.astimezone(UTC), "replied_at": local(9, 15), "done": True},
        ]])
        await connection.execute(insert(OrderEvent), [
            {"order_id": ids["o8"], "at": local(9, 15), "actor": "system", "role": "system", "action": "rehandle",
             "from_state": "visited", "to_state": "dispatched"}])
        visit = {"appeal": "none", "round": 1, "script": "return_visit", "status": "answered",
                 "closed_at": local(9, 12), "created_at": local(9, 12), "updated_at": local(9, 12)}
        await connection.execute(insert(Survey), [
            visit | {"order_id": ids["o3"], "number": "13811111111", "answered_at": local(9, 18),
                     "rating": "satisfied"},
            visit | {"order_id": ids["o8"], "number": "13900000000", "answered_at": local(9, 14),
                     "rating": "dissatisfied"},
            # an appeal the centre upheld: does not count against the department
            visit | {"order_id": ids["o9"], "number": "13900000000", "answered_at": local(9, 19),
                     "rating": "very_dissatisfied", "appeal": "upheld"},
        ])


@pytest.fixture
def settings() -> Settings:
    base = Settings()
    return dataclasses.replace(base, timezone=ZONE, reports=dataclasses.replace(base.reports, surge_min_count=2))


async def test_a_days_report_has_the_figures_worked_out_by_hand(engine: AsyncEngine, settings: Settings) -> None:
    await _seed(engine)
    while await TermIndexer(engine, 1.0).index_batch():
        pass
    report = await ReportMaker(engine, settings).make(report_periods.day(datetime(2026, 10, 9).date(), ZONE))

    calls = report.calls
    # offered: c1 c2 c3 c4 c6 c8 c10 c11 (c5 refused, c7 the day before, c9 not over)
    assert (calls["offered"], calls["answered"], calls["answer_rate"]) == (8, 3, 0.375)
    assert (calls["answered_within_service_level"], calls["service_level_rate"]) == (1, 0.125)
    assert (calls["abandoned"], calls["abandoned_short"], calls["abandoned_long"]) == (2, 1, 1)
    assert (calls["timed_out"], calls["voicemail"], calls["hung_up_before_queue"]) == (1, 1, 1)
    assert calls["average_wait_seconds"] == round((10 + 20 + 3 + 40 + 20 + 300 + 30) / 7, 2)
    assert calls["average_handle_seconds"] == (100 + 200 + 60 + 3 * settings.queue.wrapup_seconds) / 3
    assert calls["ratings"] == {"satisfied": 1}
    assert (report.previous_calls["offered"], report.previous_calls["answered"]) == (1, 1)

    orders = report.orders
    # received: o1 o2 o3 o4 o5 o8 (o6 draft, o7 discarded, o9 and o10 earlier); o5 merged
    assert (orders.received, orders.merged) == (6, 1)
    # completed by the day's end: o1 o3 (o8 reopened, o2 o4 open)
    assert (orders.completed, orders.completion_rate) == (2, 0.4)
    assert (orders.on_time, orders.on_time_rate) == (2, 1.0)
    # first call: phone consultations and help requests o1 o2; o1 closed at intake
    assert (orders.first_call_eligible, orders.first_call_resolved, orders.first_call_resolution_rate) == (2, 1, 0.5)
    # dispatched: o2 o3 o4 o8; returned: o4
    assert (orders.dispatched, orders.returned, orders.return_rate) == (4, 1, 0.25)
    assert orders.reopened == 1
    # repeats: o4 (same number and topic as o3 the same day) and o5 (merged)
    assert (orders.repeat_requests, orders.repeat_rate) == (2, round(2 / 6, 4))
    # overdue: o9 (due 9:00, closed 10:00); o3 closed before its deadline
    assert orders.overdue == 1
    # visits answered on the 9th: o3 satisfied, o8 dissatisfied (o9's upheld appeal does not count)
    assert (orders.visited, orders.satisfied, orders.satisfaction_rate) == (2, 1, 0.5)
    assert report.previous_orders.received == 1  # o9

    assert [(row.type, row.received, row.completed, row.previous) for row in report.by_type] == [
        ("consultation", 1, 1, 0), ("help", 1, 0, 0), ("complaint", 4, 1, 1)]
    topics = {row.code: row for row in report.by_topic}
    assert (topics["wuye"].topic, topics["wuye"].received, topics["wuye"].surge) == ("物业管理", 3, True)
    assert (topics["ludeng"].received, topics["ludeng"].previous) == (1, 0)
    assert topics[""].topic == "（未分类）"

    departments = {row.code: row for row in report.departments}
    zj, cg = departments["zj"], departments["cg"]
    # 住建局: o2 o3 o4 dispatched on the 9th; o3 replied on time
    assert (zj.dispatched, zj.replied, zj.replied_on_time, zj.returned, zj.overdue) == (3, 1, 1, 0, 0)
    assert (zj.visited, zj.satisfied, zj.satisfaction_rate) == (1, 1, 1.0)
    # 城管局: o4 (returned) and o8 (re-handled) dispatched on the 9th
    assert (cg.dispatched, cg.replied, cg.returned, cg.return_rate, cg.overdue) == (2, 0, 1, 0.5, 0)
    assert (cg.visited, cg.satisfied, cg.satisfaction_rate) == (1, 0, 0.0)
    # scores: 住建局 100 × (40 × 1 + 40 × 1 + 20 × 1) / 100; 城管局 no reply yet: (40 × 0 + 20 × 0.5) / 60
    assert (zj.score, zj.rank) == (100.0, 1)
    assert (cg.score, cg.rank) == (round(100 * 10 / 60, 1), 2)

    assert [(day.day, day.offered, day.answered, day.received, day.completed) for day in report.days] == [
        ("2026-10-09", 8, 3, 6, 2)]
    terms = {row.term: row for row in report.hot_terms}
    assert terms["物业"].count == 4 and terms["物业"].surge  # o2 o3 o4 o5; none the day before
    assert terms["路灯"].count == 1 and terms["路灯"].previous == 1  # o8; o9 the day before


async def test_a_special_period_across_the_holiday_counts_the_order_closed_before_its_deadline(
        engine: AsyncEngine, settings: Settings) -> None:
    await _seed(engine)
    period = report_periods.parse("special", "2026-09-30_2026-10-09", ZONE)
    report = await ReportMaker(engine, settings).make(period)
    # o1 … o10 without the two drafts: 8 received, o5 merged; completed: o1 o3 o9 o10, all but o9 on time
    assert (report.orders.received, report.orders.completed, report.orders.on_time) == (8, 4, 3)
    assert report.previous.label == "2026-09-20_2026-09-29"
    assert len(report.days) == 10


async def test_the_database_adds_up_calls_as_the_reference_definition_does(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(Call), CALLS)
    start, end = local(8, 0), local(10, 0)
    facts = [CallFacts(row["uniqueid"], None, row["started_at"], row["outcome"], row["wait_seconds"],
                       row["talk_seconds"], None, row["rating"])
             for row in CALLS if row["ended_at"] is not None and start <= row["started_at"] < end]
    async with engine.connect() as connection:
        summed = await call_counts(connection, start, end, 15, 5)
    assert summed == count_calls(facts, 15, 5)
