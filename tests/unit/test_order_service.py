"""The stored closed loop: intake, dispatch with lead and assisting departments, sign, reply, close; returns,
extensions, merges, re-handling; department isolation and masking. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import OrderEvent
from ivr.workorders.actors import Actor
from ivr.workorders.directory import Directory
from ivr.workorders.errors import ActionRefused, BadOrder, ChangedMeanwhile, OrderNotFound
from ivr.workorders.queries import OrderQueries
from ivr.workorders.service import Intake, OrderService
from ivr.workorders.supervision import SupervisionScheduler
from tests.helpers import order_service

# Tuesday 2026-11-24 10:00 in Shanghai: an ordinary working week.
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
AGENT = Actor("1001", "agent")
SUPERVISOR = Actor("2001", "supervisor")


async def setup(engine: AsyncEngine) -> tuple[OrderService, OrderQueries, dict[str, Actor]]:
    directory = Directory(engine)
    city = await directory.add_department("city", "市政府", "municipal")
    ids = {
        "urban": await directory.add_department("urban", "城管局", parent="city"),
        "housing": await directory.add_department("housing", "住建局", parent="city"),
        "water": await directory.add_department("water", "水务集团", "enterprise", parent="city"),
    }
    assert city
    await directory.load_catalogue([
        {"code": "0301", "topic": "路灯故障", "department": "urban", "keywords": ["路灯"],
         "days": {"complaint": 5, "consultation": 3}},
        {"code": "0502", "topic": "物业纠纷", "department": "housing", "keywords": ["物业"], "count_from": "sign"},
        {"code": "0901", "topic": "爆管", "department": "water", "keywords": ["爆管"], "emergency": True},
    ])
    staff = {code: Actor(f"{code}.staff", "department_staff", department_id) for code, department_id in ids.items()}
    service = order_service(engine, directory)
    return service, OrderQueries(engine), staff


def complaint(**changes: object) -> Intake:
    fields: dict[str, object] = {"channel": "phone", "content": "幸福路路灯不亮一周了", "type": "complaint",
                                 "caller_number": "13812345678", "citizen_name": "王女士", "topic": "0301",
                                 "address": "幸福路12号", "call_uniqueid": "1700000000.1"}
    fields.update(changes)
    return Intake(**fields)  # type: ignore[arg-type]


async def test_the_closed_loop_with_a_lead_and_an_assisting_department(engine: AsyncEngine) -> None:
    service, _queries, staff = await setup(engine)
    order = await service.create(complaint(), AGENT, NOW)
    assert order.number == f"20261124{order.id:06d}" and order.status == "accepted"

    await service.act(order.id, "dispatch", AGENT, NOW, {"assisting": ["housing"]})
    loaded = await service.load(order.id, AGENT)
    assert loaded.row.due_at is not None
    # Five working days from Tuesday 10:00 is the next Tuesday 10:00 (the weekend does not count).
    assert loaded.row.due_at.replace(tzinfo=UTC) == NOW + timedelta(days=7)

    await service.act(order.id, "sign", staff["urban"], NOW)
    await service.act(order.id, "sign", staff["housing"], NOW)  # the assisting department signs its own part
    await service.act(order.id, "reply", staff["urban"], NOW, {"reply": "已修复"})
    with pytest.raises(ActionRefused, match="assisting departments have not replied"):
        await service.act(order.id, "close", AGENT, NOW)
    await service.act(order.id, "reply", staff["housing"], NOW, {"reply": "已督促物业"})
    after = await service.act(order.id, "close", AGENT, NOW)
    assert after.state == "closed"
    await service.act(order.id, "visit", AGENT, NOW, {"satisfied": True})
    assert (await service.act(order.id, "evaluate", AGENT, NOW)).state == "evaluated"

    async with engine.connect() as connection:
        actions = (await connection.execute(select(OrderEvent.action).where(OrderEvent.order_id == order.id)
                                            .order_by(OrderEvent.id))).scalars().all()
    assert actions == ["create", "dispatch", "sign", "assist_sign", "reply", "assist_reply", "close", "visit",
                       "evaluate"]


async def test_a_department_cannot_see_or_change_another_departments_order(engine: AsyncEngine) -> None:
    service, queries, staff = await setup(engine)
    order = await service.create(complaint(), AGENT, NOW)
    await service.act(order.id, "dispatch", AGENT, NOW)
    with pytest.raises(OrderNotFound):
        await service.load(order.id, staff["water"])
    with pytest.raises(OrderNotFound):
        await service.act(order.id, "sign", staff["water"], NOW)
    names = {1: "x"}
    assert (await queries.inbox(staff["water"], names)).items == []
    assert [i["number"] for i in (await queries.inbox(staff["urban"], names)).items] == [order.number]
    assert (await queries.search(staff["water"], names, text="路灯")).items == []
    assert (await queries.search(staff["urban"], names, number="13812345678")).items == [], \
        "a department does not look citizens up by phone"


async def test_citizens_are_hidden_on_confidential_orders_and_reports_and_masked_in_lists(
        engine: AsyncEngine) -> None:
    service, queries, staff = await setup(engine)
    plain = await service.create(complaint(call_uniqueid="1.1"), AGENT, NOW)
    report = await service.create(complaint(call_uniqueid="1.2", type="report"), AGENT, NOW)
    for order in (plain, report):
        await service.act(order.id, "dispatch", AGENT, NOW)
    rows = {i["number"]: i for i in (await queries.inbox(staff["urban"], {})).items}
    assert rows[plain.number]["caller_number"] == "138****5678"
    assert rows[report.number]["caller_number"] == "(保密)" and rows[report.number]["citizen_name"] == "(保密)"
    loaded = await service.load(plain.id, staff["urban"])
    detail = await queries.detail(loaded.row, loaded.departments, staff["urban"], {})
    assert detail["caller_number"] == "13812345678" and detail["actions"] == ["sign", "return"]
    centre = await queries.detail((await service.load(report.id, AGENT)).row, [], AGENT, {})
    assert centre["caller_number"] == "13812345678"


async def test_a_return_is_re_dispatched_or_rejected_with_a_final_ruling(engine: AsyncEngine) -> None:
    service, _, staff = await setup(engine)
    order = await service.create(complaint(), AGENT, NOW)
    await service.act(order.id, "dispatch", AGENT, NOW)
    with pytest.raises(BadOrder, match="legal_basis"):
        await service.act(order.id, "return", staff["urban"], NOW, {"reason_code": "not-ours"})
    await service.act(order.id, "return", staff["urban"], NOW,
                      {"reason_code": "not-ours", "legal_basis": "三定方案第三条"})
    with pytest.raises(ActionRefused):
        await service.act(order.id, "redispatch", AGENT, NOW, {"department": "housing"})  # supervisors rule
    await service.act(order.id, "redispatch", SUPERVISOR, NOW + timedelta(hours=1), {"department": "housing"})
    with pytest.raises(ActionRefused, match="no longer with your department"):
        await service.act(order.id, "sign", staff["urban"], NOW)  # it still sees its history, and acts no more
    await service.act(order.id, "return", staff["housing"], NOW, {"reason_code": "x", "legal_basis": "y"})
    before = (await service.load(order.id, AGENT)).lead().due_at
    await service.act(order.id, "reject_return", SUPERVISOR, NOW + timedelta(hours=2), {"note": "属于职责"})
    after = (await service.load(order.id, AGENT)).lead().due_at
    assert after > before, "the review's working time is added to the deadline"
    with pytest.raises(ActionRefused, match="final"):
        await service.act(order.id, "return", staff["housing"], NOW, {"reason_code": "x", "legal_basis": "y"})


async def test_an_extension_is_asked_before_the_deadline_and_moves_it_when_approved(engine: AsyncEngine) -> None:
    service, _, staff = await setup(engine)
    order = await service.create(complaint(), AGENT, NOW)
    await service.act(order.id, "dispatch", AGENT, NOW)
    await service.act(order.id, "sign", staff["urban"], NOW)
    with pytest.raises(BadOrder, match="days"):
        await service.act(order.id, "request_extension", staff["urban"], NOW, {"reason": "施工", "days": 99})
    await service.act(order.id, "request_extension", staff["urban"], NOW, {"reason": "需要施工", "days": 3})
    due = (await service.load(order.id, AGENT)).row.due_at
    await service.act(order.id, "approve_extension", SUPERVISOR, NOW)
    moved = (await service.load(order.id, AGENT)).row.due_at
    assert moved.replace(tzinfo=UTC) == due.replace(tzinfo=UTC) + timedelta(days=3)  # Tue → Fri, no weekend


async def test_merged_orders_follow_their_target_and_rehandling_reopens_the_lead(engine: AsyncEngine) -> None:
    service, _, staff = await setup(engine)
    first = await service.create(complaint(call_uniqueid="2.1"), AGENT, NOW)
    second = await service.create(complaint(call_uniqueid="2.2", caller_number="13900000000"), AGENT, NOW)
    await service.act(first.id, "dispatch", AGENT, NOW)
    with pytest.raises(BadOrder, match="another existing order"):
        await service.act(second.id, "merge", AGENT, NOW, {"into": second.number})
    assert (await service.act(second.id, "merge", AGENT, NOW, {"into": first.number})).state == "merged"
    owed = [c["caller_number"] for c in await OrderQueries(engine).citizens_of(first.id)]
    assert owed == ["13812345678", "13900000000"], "both citizens get the answer and the return visit"
    for action, actor, params in [("sign", staff["urban"], {}), ("reply", staff["urban"], {"reply": "修好了"}),
                                  ("close", AGENT, {}), ("visit", AGENT, {"satisfied": False})]:
        await service.act(first.id, action, actor, NOW, params)
    assert (await service.act(first.id, "rehandle", SUPERVISOR, NOW)).state == "dispatched"
    lead = (await service.load(first.id, staff["urban"])).lead()
    assert lead.signed_at is None and not lead.done


async def test_emergencies_are_due_the_same_day_and_sign_counted_entries_start_at_signing(
        engine: AsyncEngine) -> None:
    service, _, staff = await setup(engine)
    burst = await service.create(complaint(call_uniqueid="3.1", topic="0901", type="help"), AGENT, NOW)
    await service.act(burst.id, "dispatch", AGENT, NOW)
    due = (await service.load(burst.id, AGENT)).row.due_at.replace(tzinfo=UTC)
    assert due == datetime(2026, 11, 24, 16, 0, tzinfo=UTC), "midnight in Shanghai"
    dispute = await service.create(complaint(call_uniqueid="3.2", topic="0502"), AGENT, NOW)
    await service.act(dispute.id, "dispatch", AGENT, NOW)
    assert (await service.load(dispute.id, AGENT)).row.due_at is None
    await service.act(dispute.id, "sign", staff["housing"], NOW + timedelta(days=1))
    assert (await service.load(dispute.id, AGENT)).row.due_at is not None


async def test_a_stale_write_is_refused(engine: AsyncEngine) -> None:
    service, _, _staff = await setup(engine)
    order = await service.create(complaint(), AGENT, NOW)
    stale = await service.load(order.id, AGENT)
    await service.act(order.id, "dispatch", AGENT, NOW)
    async with engine.begin() as connection:
        with pytest.raises(ChangedMeanwhile):
            await service._write(connection, stale, {"status": "closed"})


async def test_bad_intake_is_refused_with_the_field_named(engine: AsyncEngine) -> None:
    service, _, _ = await setup(engine)
    for bad, field in [(complaint(type="rumour"), "type"), (complaint(topic="9999"), "topic"),
                       (complaint(content=" "), "content"), (complaint(channel="fax"), "channel")]:
        with pytest.raises(BadOrder) as refused:
            await service.create(bad, AGENT, NOW)
        assert refused.value.details["field"] == field


async def test_the_supervision_ladder_is_sent_once_each_step_and_waits_while_returned(engine: AsyncEngine) -> None:
    service, queries, staff = await setup(engine)
    order = await service.create(complaint(), AGENT, NOW)
    await service.act(order.id, "dispatch", AGENT, NOW)  # due Tuesday 2026-12-01 10:00 Shanghai
    scheduler = SupervisionScheduler(engine, "Asia/Shanghai", service.calendar)
    assert await scheduler.run_once(NOW + timedelta(days=5)) == 0, "Sunday: the warning comes on Monday 10:00"
    assert await scheduler.run_once(NOW + timedelta(days=6, hours=1)) == 1
    assert await scheduler.run_once(NOW + timedelta(days=6, hours=2)) == 0, "sent once"
    # A restart long after the deadline catches up with the reminder and the notice in one round.
    assert await scheduler.run_once(NOW + timedelta(days=8, hours=1)) == 2
    notices = await queries.notices(staff["urban"])
    assert [n["step"] for n in notices] == ["notice", "reminder", "warning"]
    assert await queries.notices(staff["housing"]) == []

    other = await service.create(complaint(call_uniqueid="9.9"), AGENT, NOW)
    await service.act(other.id, "dispatch", AGENT, NOW)
    await service.act(other.id, "return", staff["urban"], NOW, {"reason_code": "x", "legal_basis": "y"})
    assert await scheduler.run_once(NOW + timedelta(days=30)) == 2, "the first order's public notice, escalation"
    steps = [(n["number"], n["step"]) for n in await queries.notices(SUPERVISOR)]
    assert (order.number, "escalation") in steps
    assert not [step for number, step in steps if number == other.number], "no 督办 while the return is reviewed"


async def test_a_department_does_not_see_the_citizens_contact_details_in_the_history(engine: AsyncEngine) -> None:
    service, queries, staff = await setup(engine)
    order = await service.create(complaint(channel="api", details={"email": "wang@example.cn", "media_url":
                                                                  "https://img.example.cn/1.jpg"}), AGENT, NOW)
    await service.act(order.id, "dispatch", AGENT, NOW)
    for actor, shown in [(AGENT, True), (staff["urban"], False)]:
        loaded = await service.load(order.id, actor)
        detail = await queries.detail(loaded.row, loaded.departments, actor, {})
        created = detail["history"][0]["data"]
        assert ("email" in created) is shown and created["media_url"] == "https://img.example.cn/1.jpg"


async def test_the_centre_corrects_an_open_order_and_the_history_says_what_changed(engine: AsyncEngine) -> None:
    service, queries, staff = await setup(engine)
    draft = await service.create(complaint(channel="api", accepted=False, topic=None, type="consultation"),
                                 Actor("wechat", "api"), NOW)
    assert await service.edit(draft.id, AGENT, NOW, {"topic": "0301", "type": "complaint", "content":
                                                     "幸福路路灯不亮一周了"}) == ["topic", "type"]
    with pytest.raises(BadOrder, match="cannot be edited"):
        await service.edit(draft.id, AGENT, NOW, {"status": "closed"})
    with pytest.raises(BadOrder, match="no catalogue entry"):
        await service.edit(draft.id, AGENT, NOW, {"topic": "9999"})
    with pytest.raises(ActionRefused):
        await service.edit(draft.id, staff["urban"], NOW, {"type": "help"})
    loaded = await service.load(draft.id, AGENT)
    detail = await queries.detail(loaded.row, loaded.departments, AGENT, {})
    assert detail["history"][-1]["data"]["type"] == {"from": "consultation", "to": "complaint"}
    await service.act(draft.id, "accept", AGENT, NOW)
    assert (await service.act(draft.id, "dispatch", AGENT, NOW)).state == "dispatched", "to the topic's department"


async def test_a_department_admin_forwards_an_order_down_to_one_of_its_own_units(engine: AsyncEngine) -> None:
    service, queries, staff = await setup(engine)
    team = await service.directory.add_department("urban.team3", "城管三中队", "street", parent="urban")
    squad = await service.directory.add_department("urban.team3.a", "三中队一组", "community", parent="urban.team3")
    urban_admin = Actor("urban.admin", "department_admin", staff["urban"].department_id)
    order = await service.create(complaint(), AGENT, NOW)
    await service.act(order.id, "dispatch", AGENT, NOW)
    due = (await service.load(order.id, AGENT)).row.due_at
    with pytest.raises(ActionRefused, match="not for role department_staff"):
        await service.act(order.id, "forward", staff["urban"], NOW, {"department": "urban.team3"})
    with pytest.raises(BadOrder, match="one of your own units"):
        await service.act(order.id, "forward", urban_admin, NOW, {"department": "housing"})
    await service.act(order.id, "forward", urban_admin, NOW, {"department": "urban.team3.a"})  # two levels down
    squad_staff = Actor("squad", "department_staff", squad)
    await service.act(order.id, "sign", squad_staff, NOW)
    await service.act(order.id, "reply", squad_staff, NOW, {"reply": "已修复"})
    loaded = await service.load(order.id, AGENT)
    assert loaded.row.status == "replied" and loaded.row.due_at == due, "the order's deadline is kept"
    assert [item["number"] for item in (await queries.inbox(staff["urban"], {}, done=True)).items] == [order.number]
    with pytest.raises(OrderNotFound):  # the unit in between was never on the order
        await service.load(order.id, Actor("team", "department_staff", team))
