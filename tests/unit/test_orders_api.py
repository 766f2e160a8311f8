"""The orders API through HTTP, on the real stores (SQLite and PostgreSQL): web users' log-in and roles, CSRF,
department isolation (another department's order is 404 for reading, acting and attachments), masking,
filing at intake with dispatch or closure, suggestions and duplicate warnings, attachments."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import keys
from ivr.agents.store import AgentStore
from ivr.calls.store import CallStore
from ivr.calls.tracker import CallTracker
from ivr.db.models import OrderEvent, WorkOrder
from ivr.desk import routes as desk
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.web.auth import CSRF_HEADER, auth_middleware
from ivr.web.input import input_middleware
from ivr.web.logins import LOGINS, Logins
from ivr.workorders import routes
from ivr.workorders.actors import SYSTEM_ACTOR, Actor
from ivr.workorders.admin import STARTER_DIRECTORY, load_directory, read_directory
from ivr.workorders.directory import Directory
from ivr.workorders.queries import OrderQueries
from ivr.workorders.service import Intake, OrderService

SECRET = "orders-test-secret"
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
CALLER = "13912345678"
AGENT = Actor("1001", "agent")


@dataclass
class Centre:
    engine: AsyncEngine
    server: TestServer
    passwords: dict[str, str]
    agent_pin: str
    opened: list[TestClient[web.Request, web.Application]]

    async def client(self, user: str | None = None) -> TestClient[web.Request, web.Application]:
        client: TestClient[web.Request, web.Application] = TestClient(self.server)
        await client.start_server()
        self.opened.append(client)
        if user is not None:
            path, body = (("/api/session", {"agent_id": user, "pin": self.agent_pin}) if user == "1001" else
                          ("/api/portal/session", {"user": user, "password": self.passwords[user]}))
            response = await client.post(path, json=body)
            assert response.status == 200, await response.text()
            client.session.headers[CSRF_HEADER] = (await response.json())["csrf"]
        return client

    async def orders(self) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(WorkOrder))).scalar_one())


@pytest.fixture
async def centre(engine: AsyncEngine) -> AsyncIterator[Centre]:
    directory = Directory(engine)
    await load_directory(directory, read_directory(STARTER_DIRECTORY))
    passwords = {"urban.li": "urban-password-1", "water.wang": "water-password-1"}
    await directory.add_user("urban.li", "李", "department_staff", passwords["urban.li"], NOW, "urban")
    await directory.add_user("water.wang", "王", "department_staff", passwords["water.wang"], NOW, "water")
    agents = AgentStore(engine)
    pin = await agents.add("1001", "坐席一号")
    calls = CallStore(engine)
    await calls.upsert([{"uniqueid": "1700000000.7", "caller_number": CALLER, "agent": "1001",
                         "outcome": "answered", "started_at": NOW}])
    settings = Settings()
    app = web.Application(middlewares=[auth_middleware(SECRET), input_middleware])
    app[LOGINS] = Logins.on(engine)
    app[keys.SETTINGS] = settings
    app[keys.SECRETS] = Secrets(ami_password="x", seat_passwords={}, web_secret=SECRET)
    app[keys.AGENT_STORE] = agents
    app[keys.CALL_STORE] = calls
    app[keys.TRACKER] = CallTracker("12345", "citizens", lambda row: None)
    app[keys.DIRECTORY] = directory
    app[keys.ORDERS] = OrderService(engine, directory, settings.workorders, settings.timezone,
                                    Path(tempfile.mkdtemp()))
    app[keys.ORDER_QUERIES] = OrderQueries(engine)
    routes.setup_routes(app)
    desk.setup_routes(app)
    server = TestServer(app)
    await server.start_server()
    centre = Centre(engine, server, passwords, pin, [])
    yield centre
    for client in centre.opened:
        await client.close()
    await server.close()


async def file(client: TestClient[web.Request, web.Application], **fields: Any) -> dict[str, Any]:
    body = {"call": "1700000000.7", "content": "幸福路路灯不亮", "type": "complaint", "topic": "0301",
            "address": "幸福路12号", "then": "dispatch", "department": "urban", **fields}
    response = await client.post("/api/orders", json=body)
    answer = await response.json()
    assert response.status == 201, answer
    return dict(answer)


async def test_an_agent_files_and_dispatches_and_the_department_signs_replies_and_the_centre_closes(
        centre: Centre) -> None:
    agent, urban = await centre.client("1001"), await centre.client("urban.li")
    order = await file(agent)
    assert order["status"] == "dispatched" and order["caller_number"] == CALLER and order["channel"] == "phone"
    listing = await urban.get("/api/orders")
    inbox = await listing.json()
    assert listing.status == 200, inbox
    assert [item["number"] for item in inbox["items"]] == [order["number"]]
    assert inbox["items"][0]["caller_number"] == "139****5678", "masked in the list"
    path = f"/api/orders/{order['id']}/actions"
    assert (await urban.post(f"{path}/sign", json={})).status == 200
    replied = await (await urban.post(f"{path}/reply", json={"reply": "已更换灯泡"})).json()
    assert replied["status"] == "replied" and replied["actions"] == []
    closed = await (await agent.post(f"{path}/close", json={})).json()
    assert closed["status"] == "closed" and closed["reply"] == "已更换灯泡"
    assert [h["action"] for h in closed["history"]] == ["create", "dispatch", "sign", "reply", "close"]


async def test_another_departments_order_is_not_found_for_reading_acting_or_its_files(centre: Centre) -> None:
    agent, water = await centre.client("1001"), await centre.client("water.wang")
    order = await file(agent)
    upload = aiohttp.FormData()
    upload.add_field("file", b"photo", filename="lamp.jpg", content_type="image/jpeg")
    attached = await (await agent.post(f"/api/orders/{order['id']}/attachments", data=upload)).json()
    file_id = attached["attachments"][0]["id"]
    for method, path, body in [
        ("GET", f"/api/orders/{order['id']}", None),
        ("POST", f"/api/orders/{order['id']}/actions/sign", {}),
        ("POST", f"/api/orders/{order['id']}/actions/reply", {"reply": "x"}),
        ("GET", f"/api/orders/{order['id']}/attachments/{file_id}", None),
        ("GET", "/api/orders/999999", None),
    ]:
        response = await water.request(method, path, json=body)
        assert response.status == 404, (method, path, await response.text())
        assert (await response.json())["error_id"] == "order-not-found"
    assert (await (await water.get("/api/orders/search", params={"q": "路灯"})).json())["items"] == []
    async with centre.engine.connect() as connection:
        status = (await connection.execute(select(WorkOrder.status))).scalar_one()
    assert status == "dispatched", "nothing changed"


async def test_department_users_reach_only_the_orders_side_and_every_change_needs_the_csrf_token(
        centre: Centre) -> None:
    urban = await centre.client("urban.li")
    assert (await urban.get("/api/me")).status == 403, "the desk's seat API is for agents"
    assert (await urban.post("/api/seat", json={"seat": "8001"})).status == 403
    assert (await urban.post("/api/orders", json={"content": "x"})).status == 403, "departments do not file"
    urban.session.headers.pop(CSRF_HEADER)
    agent = await centre.client("1001")
    order = await file(agent)
    refused = await urban.post(f"/api/orders/{order['id']}/actions/sign", json={})
    assert refused.status == 403 and (await refused.json())["error_id"] == "csrf"
    wrong = await (await centre.client()).post("/api/portal/session", json={"user": "urban.li", "password": "x"})
    assert wrong.status == 401


async def test_a_confidential_order_hides_the_citizen_from_the_department_and_each_view_is_audited(
        centre: Centre) -> None:
    agent, urban = await centre.client("1001"), await centre.client("urban.li")
    order = await file(agent, confidential=True, citizen_name="张先生")
    seen = await (await urban.get(f"/api/orders/{order['id']}")).json()
    assert seen["caller_number"] == "(保密)" and seen["citizen_name"] == "(保密)"
    assert CALLER not in str(seen)
    async with centre.engine.connect() as connection:
        views = (await connection.execute(select(OrderEvent.actor).where(OrderEvent.action == "view")
                                          .order_by(OrderEvent.id))).scalars().all()
    assert views == ["1001", "urban.li"], "the agent's view after filing and the department's"


async def test_a_consultation_answered_from_the_knowledge_base_closes_at_intake(centre: Centre) -> None:
    agent = await centre.client("1001")
    order = await file(agent, type="consultation", topic="0701", then="close_at_intake", reply="社保卡在银行网点办理")
    assert order["status"] == "closed" and order["reply"] == "社保卡在银行网点办理"
    refused = await agent.post("/api/orders", json={"call": "1700000000.7", "content": "路灯", "type": "complaint",
                                                     "then": "close_at_intake", "reply": "x"})
    assert refused.status == 409, "a complaint is not closed at intake"


async def test_the_suggestion_names_the_topic_department_type_and_open_duplicates(centre: Centre) -> None:
    agent = await centre.client("1001")
    first = await file(agent)
    found = await (await agent.get("/api/orders/suggestion", params={
        "text": "我要投诉路灯不亮", "address": "幸福路12号", "number": CALLER})).json()
    assert found["topics"][0]["code"] == "0301" and found["topics"][0]["department"] == "urban"
    assert found["type"] == "complaint"
    assert found["duplicates"][0]["number"] == first["number"]
    assert set(found["duplicates"][0]["reasons"]) == {"number", "address", "topic"}


async def test_bad_requests_name_what_is_wrong_and_write_nothing(centre: Centre) -> None:
    agent = await centre.client("1001")
    before = await centre.orders()
    for body, field in [({"content": "x", "type": "rumour"}, "type"), ({"content": "x", "topic": "9999"}, "topic"),
                        ({"content": 5}, "content"), ({"content": "x", "call": "not-mine"}, None)]:
        response = await agent.post("/api/orders", json=body)
        answer = await response.json()
        assert 400 <= response.status < 500 and answer["message"], answer
        if field:
            assert answer["details"]["field"] == field
    not_json = await agent.post("/api/orders", data=b"\xff\xfe", headers={"Content-Type": "application/json"})
    assert not_json.status == 400
    assert await centre.orders() == before


async def test_with_the_database_away_a_change_answers_503_and_says_so(centre: Centre) -> None:
    agent = await centre.client("1001")
    await centre.engine.dispose()
    original = centre.engine.pool.connect

    def refuse() -> Any:
        raise OSError("connection refused")

    centre.engine.sync_engine.pool.connect = refuse  # type: ignore[method-assign]
    try:
        response = await agent.post("/api/orders", json={"content": "路灯不亮", "call": "1700000000.7"})
        answer = await response.json()
        assert response.status == 503 and answer["error_id"] == "database-unavailable", answer
        assert "nothing was changed" in answer["message"]
    finally:
        centre.engine.sync_engine.pool.connect = original  # type: ignore[method-assign]


# The confidential order's history and recording (issue 15, hole 5)

VOICEMAIL_TEXT = "我是李四，电话13912345678，身份证110101199003071234，幸福路路灯不亮，物业电话13700001111"


async def voicemail_order(centre: Centre, folder: Path, **edits: Any) -> int:
    """A voicemail draft with its recording, as the voicemail intake files it; the agent edits it (`edits`, through
    the API), accepts it and dispatches it to urban (the service: the desk's hub is not part of this app)."""
    service = centre.server.app[keys.ORDERS]
    order = await service.create(Intake(
        "voicemail", VOICEMAIL_TEXT, type="complaint", topic="0301", caller_number=CALLER, citizen_name="李四",
        audio_path=_recording(folder), accepted=False), SYSTEM_ACTOR, NOW)
    if edits:
        edited = await (await centre.client("1001")).patch(f"/api/orders/{order.id}", json=edits)
        assert edited.status == 200, await edited.text()
    await service.act(order.id, "accept", AGENT, NOW)
    await service.act(order.id, "dispatch", AGENT, NOW, {"department": "urban", "note": "李四要求保密"})
    return int(order.id)


def _recording(folder: Path) -> str:
    path = folder / "vm.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    return str(path)


async def audit(centre: Centre, order_id: int) -> list[tuple[str, str]]:
    async with centre.engine.connect() as connection:
        rows = (await connection.execute(select(OrderEvent.actor, OrderEvent.action).where(
            OrderEvent.order_id == order_id, OrderEvent.action.in_(("view", "download"))).order_by(OrderEvent.id)
        )).all()
    return [(actor, action) for actor, action in rows]


async def test_a_confidential_orders_history_and_recording_are_kept_from_the_department_and_each_look_audited(
        centre: Centre, tmp_path: Path) -> None:
    agent, urban = await centre.client("1001"), await centre.client("urban.li")
    order_id = await voicemail_order(centre, tmp_path, citizen_name="李四(新)", confidential=True)
    path = f"/api/orders/{order_id}"
    recording = (await (await agent.get(path)).json())["attachments"][0]
    assert recording["kind"] == "recording"

    seen = await (await urban.get(path)).json()
    text = json.dumps(seen, ensure_ascii=False)
    for personal in ("李四", CALLER, "110101199003071234"):
        assert personal not in text, (personal, text)
    (edit,) = [event for event in seen["history"] if event["action"] == "edit"]
    assert edit["data"]["citizen_name"] == {"from": "(保密)", "to": "(保密)"}
    assert edit["data"]["confidential"] == {"from": False, "to": True}
    assert [e["note"] for e in seen["history"] if e["action"] == "dispatch"] == ["李*要求保密"]
    assert seen["content"] == ("我是李*，电话139****5678，身份证110*************34，幸福路路灯不亮，"
                               "物业电话13700001111"), "the citizen masked, the other party's number kept"

    refused = await urban.get(f"{path}/attachments/{recording['id']}")
    answer = await refused.json()
    assert refused.status == 403 and answer["error_id"] == "forbidden", answer
    assert "confidential" in answer["message"] and "centre" in answer["message"]
    played = await agent.get(f"{path}/attachments/{recording['id']}")
    assert played.status == 200 and (await played.read()).startswith(b"RIFF")
    centre_view = await (await agent.get(path)).json()
    (edit,) = [event for event in centre_view["history"] if event["action"] == "edit"]
    assert edit["data"]["citizen_name"] == {"from": "李四", "to": "李四(新)"}, "the centre sees the citizen"
    assert {e["action"] for e in centre_view["history"]}.isdisjoint({"view", "download"})
    assert await audit(centre, order_id) == [  # the edit's answer, then each read; the refused download is none
        ("1001", "view"), ("1001", "view"), ("urban.li", "view"), ("1001", "download"), ("1001", "view")]


async def test_a_plain_orders_recording_reaches_its_department_and_every_play_is_audited(
        centre: Centre, tmp_path: Path) -> None:
    urban = await centre.client("urban.li")
    order_id = await voicemail_order(centre, tmp_path)
    path = f"/api/orders/{order_id}"
    seen = await (await urban.get(path)).json()
    assert seen["citizen_name"] == "李四" and "李四" in seen["content"], "not confidential: shown as it is"
    played = await urban.get(f"{path}/attachments/{seen['attachments'][0]['id']}")
    assert played.status == 200
    assert await audit(centre, order_id) == [("urban.li", "download")]


async def test_the_centre_publishes_an_order_on_open311_and_takes_it_off(centre: Centre) -> None:
    agent, urban = await centre.client("1001"), await centre.client("urban.li")
    order = await file(agent)
    path = f"/api/orders/{order['id']}/publication"
    assert order["published"] is False and order["public_id"] is None
    published = await (await agent.post(path, json={"public": True})).json()
    assert published["published"] is True and len(published["public_id"]) == 22
    assert published["history"][-1]["action"] == "publish"
    taken_off = await (await agent.post(path, json={"public": False})).json()
    assert taken_off["published"] is False and taken_off["public_id"] == published["public_id"]
    for client, body, status in [(agent, {"public": "yes"}, 400), (urban, {"public": True}, 409)]:
        response = await client.post(path, json=body)
        assert response.status == status, await response.text()
    secret = await file(agent, confidential=True)
    refused = await agent.post(f"/api/orders/{secret['id']}/publication", json={"public": True})
    assert refused.status == 409 and "never public" in (await refused.json())["message"]
    department_view = await (await urban.get(f"/api/orders/{order['id']}")).json()
    assert department_view["public_id"] is None
