"""The campaigns API through HTTP on the real stores (SQLite and PostgreSQL): supervisors and administrators only
(departments and agents 403, nobody logged in 401, no CSRF token 403); a list uploaded as multipart (UTF-8 or
Excel's GB 18030) or JSON, its problem lines returned and shown later; bad script, channel, unit or quota 400
with the reason; start, pause, resume, cancel and 409 with the reason; the CSV exports; the event stream pushed
by the notifier (its fallback read is an hour here) and ended by close()."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import keys
from ivr.agents.store import AgentStore
from ivr.campaigns import routes
from ivr.campaigns.progress import CampaignProgress
from ivr.campaigns.store import CampaignStore
from ivr.db.models import Survey
from ivr.desk import routes as desk
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.surveys.store import SurveyStore
from ivr.web.auth import CSRF_HEADER, auth_middleware
from ivr.web.logins import LOGINS, Logins
from ivr.workorders import routes as workorders
from ivr.workorders.directory import Directory

SECRET = "campaigns-test-secret"
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
LIST = "号码,单位,姓名\n13900000001,urban,张三\n1390000,urban\n13900000002,water,李四\n13900000003,urban\n"
Client = TestClient[web.Request, web.Application]


@dataclass
class Centre:
    engine: AsyncEngine
    server: TestServer
    passwords: dict[str, str]
    pins: dict[str, str]
    progress: CampaignProgress
    opened: list[Client]

    async def client(self, who: str | None = None, csrf: bool = True) -> Client:
        client: Client = TestClient(self.server)
        await client.start_server()
        self.opened.append(client)
        if who is not None:
            path, body = (("/api/session", {"agent_id": who, "pin": self.pins[who]}) if who in self.pins else
                          ("/api/portal/session", {"user": who, "password": self.passwords[who]}))
            response = await client.post(path, json=body)
            assert response.status == 200, await response.text()
            if csrf:
                client.session.headers[CSRF_HEADER] = (await response.json())["csrf"]
        return client


@pytest.fixture
async def centre(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Centre]:
    directory = Directory(engine)
    await directory.add_department("urban", "城管局")
    await directory.add_department("water", "水务局")
    passwords = {"lead": "lead-password-1", "admin": "admin-password-1", "urban.li": "urban-password-1"}
    await directory.add_user("lead", "值班长", "supervisor", passwords["lead"], NOW)
    await directory.add_user("admin", "管理员", "administrator", passwords["admin"], NOW)
    await directory.add_user("urban.li", "李", "department_staff", passwords["urban.li"], NOW, "urban")
    agents = AgentStore(engine)
    pins = {"1001": await agents.add("1001", "坐席一号"), "1901": await agents.add("1901", "班长", role="supervisor")}
    store = CampaignStore(engine, tmp_path / "campaigns")
    progress = CampaignProgress(store.snapshot, fallback=3600)  # only the notifier can wake a stream in time
    app = web.Application(middlewares=[auth_middleware(SECRET)])
    app[LOGINS] = Logins.on(engine)
    app[keys.SETTINGS] = Settings()
    app[keys.SECRETS] = Secrets(ami_password="x", seat_passwords={}, web_secret=SECRET)
    app[keys.AGENT_STORE] = agents
    app[keys.DIRECTORY] = directory
    app[keys.CAMPAIGNS], app[keys.CAMPAIGN_PROGRESS] = store, progress
    workorders.setup_routes(app)
    desk.setup_routes(app)  # the agents' log-in
    routes.setup_routes(app)
    server = TestServer(app)
    await server.start_server()
    centre = Centre(engine, server, passwords, pins, progress, [])
    yield centre
    progress.close()
    for client in centre.opened:
        await client.close()
    await server.close()


def upload(data: bytes, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    defaults = {"name": "政务服务评议", "script": "public_evaluation", "channels": "phone,sms",
                "quotas": json.dumps({"urban": 2})}
    for name, value in (defaults | fields).items():
        form.add_field(name, value)
    form.add_field("file", data, filename="list.csv", content_type="text/csv")
    return form


async def created(client: Client, data: bytes = LIST.encode(), **fields: str) -> dict[str, Any]:
    response = await client.post("/api/campaigns", data=upload(data, **fields))
    body = await response.json()
    assert response.status == 201, body
    return dict(body)


async def test_a_supervisor_uploads_a_list_and_sees_its_problem_lines_then_and_later(centre: Centre) -> None:
    lead = await centre.client("lead")
    body = await created(lead)
    assert body["imported"] == 3
    assert body["problems"] == [{"line": 3, "problem": "'1390000' is not an 11-digit mobile number (13x–19x)"}]
    campaign = body["campaign"]
    assert (campaign["name"], campaign["script"], campaign["script_title"], campaign["channels"],
            campaign["status"], campaign["quotas"], campaign["created_by"]) == (
        "政务服务评议", "public_evaluation", "政务服务评议", "phone,sms", "ready", {"urban": 2}, "lead")

    detail = await (await lead.get(f"/api/campaigns/{campaign['id']}")).json()
    assert detail["problems"] == body["problems"]
    assert [(u["unit"], u["name"], u["numbers"], u["quota"], u["answered"]) for u in detail["units"]] == [
        ("urban", "城管局", 2, 2, 0), ("water", "水务局", 1, None, 0)]
    assert (detail["total"]["numbers"], detail["campaign"]["status"]) == (3, "ready")
    assert {(r["unit"], r["question"]) for r in detail["results"]} == {
        (unit, question) for unit in ("urban", "water", "") for question in ("service", "efficiency")}

    listed = await (await lead.get("/api/campaigns")).json()
    assert [(c["id"], c["numbers"], c["answered"], c["statuses"]) for c in listed["campaigns"]] == [
        (campaign["id"], 3, 0, {"due": 3})]
    assert [s["name"] for s in listed["scripts"]] == ["return_visit", "public_evaluation"]
    assert listed["units"] == [{"code": "urban", "name": "城管局"}, {"code": "water", "name": "水务局"}]
    assert [c["value"] for c in listed["channels"]] == ["phone,sms", "phone", "sms"]


async def test_a_list_saved_by_excel_in_gb18030_or_sent_as_json_is_imported(centre: Centre) -> None:
    admin = await centre.client("admin")
    body = await created(admin, LIST.encode("gb18030"))
    assert body["imported"] == 3 and body["campaign"]["created_by"] == "admin"
    async with centre.engine.connect() as connection:
        names = set((await connection.execute(select(Survey.name))).scalars().all())
    assert names == {"张三", "李四", None}

    response = await admin.post("/api/campaigns", json={"name": "短信评议", "script": "public_evaluation",
                                                        "channels": "sms", "quotas": {"water": 1}, "csv": LIST})
    answer = await response.json()
    assert response.status == 201, answer
    assert (answer["imported"], answer["campaign"]["channels"], answer["campaign"]["quotas"]) == (3, "sms",
                                                                                                 {"water": 1})


@pytest.mark.parametrize(("fields", "message"), [
    ({"script": "quiz"}, "unknown script 'quiz': expected one of return_visit, public_evaluation"),
    ({"channels": "fax"}, "unknown channels 'fax': expected one of phone,sms, phone, sms"),
    ({"quotas": json.dumps({"roads": 5})}, "no unit 'roads' to set a quota for"),
    ({"quotas": json.dumps({"urban": 0})}, "the quota of urban must be a whole number of answers from 1"),
    ({"quotas": "urban=5"}, "quotas must be a JSON object of unit → answers wanted"),
    ({"name": ""}, "the campaign needs a name"),
])
async def test_an_unknown_script_channel_or_unit_or_a_bad_quota_is_a_400_with_the_reason(
        centre: Centre, fields: dict[str, str], message: str) -> None:
    lead = await centre.client("lead")
    response = await lead.post("/api/campaigns", data=upload(LIST.encode(), **fields))
    body = await response.json()
    assert (response.status, body["error_id"]) == (400, "bad-campaign")
    assert body["message"].startswith(message)
    assert (await (await lead.get("/api/campaigns")).json())["campaigns"] == []


async def test_a_request_without_a_list_or_with_binary_is_a_400(centre: Centre) -> None:
    lead = await centre.client("lead")
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("name", "无清单")
    form.add_field("script", "public_evaluation")
    response = await lead.post("/api/campaigns", data=form)
    assert (response.status, (await response.json())["message"]) == (
        400, "upload the number list (CSV) in a part named file")
    response = await lead.post("/api/campaigns", data=upload(b"\x81\x20\xff\xfe"))
    assert response.status == 400 and "neither UTF-8 nor GB 18030" in (await response.json())["message"]
    response = await lead.post("/api/campaigns", json={"name": "x", "script": "public_evaluation"})
    assert response.status == 400 and '"csv"' in (await response.json())["message"]


async def test_a_nul_in_a_field_or_in_the_list_is_a_400_naming_it_and_nothing_is_stored(centre: Centre) -> None:
    lead = await centre.client("lead")
    for response, where in [
            (await lead.post("/api/campaigns", data=upload(LIST.encode(), name="评议\x00")), "name"),
            (await lead.post("/api/campaigns", data=upload(LIST.replace("张三", "张\x00三").encode())), "file"),
            (await lead.post("/api/campaigns", json={"name": "评议", "script": "public_evaluation",
                                                     "csv": LIST.replace("张三", "张\x00三")}), "csv")]:
        answer = await response.json()
        assert response.status == 400 and answer["details"] == {"field": where}, answer
    assert (await (await lead.get("/api/campaigns")).json())["campaigns"] == []


async def test_campaigns_are_for_supervisors_and_administrators_only(centre: Centre) -> None:
    body = await created(await centre.client("lead"))
    campaign_id = body["campaign"]["id"]
    for who in ("urban.li", "1001"):
        other = await centre.client(who)
        for method, path in (("GET", "/api/campaigns"), ("GET", f"/api/campaigns/{campaign_id}"),
                             ("POST", f"/api/campaigns/{campaign_id}/start"),
                             ("GET", f"/api/campaigns/{campaign_id}/answers.csv"),
                             ("GET", f"/api/campaigns/{campaign_id}/events")):
            response = await other.request(method, path)
            assert (response.status, (await response.json())["error_id"]) == (403, "not-for-role"), (who, path)
        response = await other.post("/api/campaigns", data=upload(LIST.encode()))
        assert response.status == 403
    supervisor_agent = await centre.client("1901")  # a supervisor logged in at the desk
    assert (await supervisor_agent.get(f"/api/campaigns/{campaign_id}")).status == 200
    nobody = await centre.client()
    assert (await nobody.get("/api/campaigns")).status == 401
    no_token = await centre.client("lead", csrf=False)
    response = await no_token.post(f"/api/campaigns/{campaign_id}/start")
    assert (response.status, (await response.json())["error_id"]) == (403, "csrf")
    page = await nobody.get("/campaigns")
    assert page.status == 200 and "满意度调查活动" in await page.text()


async def test_start_pause_resume_cancel_and_409_with_the_reason(centre: Centre) -> None:
    lead = await centre.client("lead")
    campaign_id = (await created(lead))["campaign"]["id"]

    async def act(action: str) -> tuple[int, dict[str, Any]]:
        response = await lead.post(f"/api/campaigns/{campaign_id}/{action}")
        return response.status, dict(await response.json())

    status, body = await act("pause")
    assert (status, body["error_id"], body["message"]) == (
        409, "campaign-refused", "only a running campaign can be paused; this one is ready")
    status, body = await act("start")
    assert (status, body["campaign"]["status"]) == (200, "running") and body["campaign"]["started_at"]
    status, body = await act("start")
    assert (status, body["message"], body["details"]) == (409, "the campaign is running already",
                                                          {"status": "running"})
    assert (await act("pause"))[1]["campaign"]["status"] == "paused"
    assert (await act("resume"))[1]["campaign"]["status"] == "running"
    assert (await act("cancel"))[1]["campaign"]["status"] == "cancelled"
    status, body = await act("resume")
    assert (status, body["message"]) == (409, "the campaign is cancelled: nothing is left to resume")
    assert (await lead.post("/api/campaigns/999/start")).status == 404
    assert (await lead.get("/api/campaigns/999")).status == 404
    assert (await lead.post(f"/api/campaigns/{campaign_id}/restart")).status == 404  # no such route


async def test_the_exports_are_csv_with_the_numbers_masked(centre: Centre) -> None:
    lead = await centre.client("lead")
    campaign_id = (await created(lead))["campaign"]["id"]
    await lead.post(f"/api/campaigns/{campaign_id}/start")
    surveys = SurveyStore(centre.engine)
    first = (await surveys.due("call", NOW.replace(year=2100), 1))[0]
    await surveys.answer(first.id, {"service": "satisfied", "efficiency": "dissatisfied"}, "sms", NOW)

    response = await lead.get(f"/api/campaigns/{campaign_id}/results.csv")
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename*=UTF-8''campaign-{campaign_id}-results.csv")
    rows = list(csv.reader(io.StringIO((await response.text()).lstrip("\ufeff"))))
    assert rows[1] == ["urban", "城管局", "服务满意度", "1", "0", "1", "0", "0", "0", "100.0%"]

    response = await lead.get(f"/api/campaigns/{campaign_id}/answers.csv")
    text = await response.text()
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert [row[:4] + row[-2:] for row in rows[1:]] == [
        ["2", "urban", "139****0001", "已回答", "满意", "不满意"], ["4", "water", "139****0002", "待联系", "", ""],
        ["5", "urban", "139****0003", "待联系", "", ""]]
    assert "13900000001" not in text


async def next_event(stream: aiohttp.ClientResponse) -> dict[str, Any]:
    """The next `progress` event of a stream (comments and the retry line skipped)."""
    async with asyncio.timeout(5):
        while True:
            block = (await stream.content.readuntil(b"\n\n")).decode()
            assert block, "the stream ended"
            fields = dict(line.split(": ", 1) for line in block.strip().splitlines() if ": " in line)
            if fields.get("event") == "progress":
                return dict(json.loads(fields["data"]))


async def test_the_event_stream_pushes_the_progress_when_the_notifier_is_told(centre: Centre) -> None:
    lead = await centre.client("lead")
    campaign_id = (await created(lead))["campaign"]["id"]
    stream = await lead.get(f"/api/campaigns/{campaign_id}/events")
    assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    first = await next_event(stream)
    assert (first["campaign"]["status"], first["total"]["answered"]) == ("ready", 0)

    await lead.post(f"/api/campaigns/{campaign_id}/start")  # the route tells the notifier
    assert (await next_event(stream))["campaign"]["status"] == "running"

    surveys = SurveyStore(centre.engine)
    first_number = (await surveys.due("call", NOW.replace(year=2100), 1))[0]
    await surveys.answer(first_number.id, {"service": "very_satisfied", "efficiency": "satisfied"}, "phone", NOW)
    centre.progress.changed(campaign_id)  # as the dialer's listener does
    pushed = await next_event(stream)
    urban = next(u for u in pushed["units"] if u["unit"] == "urban")
    assert (urban["answered"], urban["quota"], urban["satisfaction"]) == (1, 2, 1.0)
    assert next(r for r in pushed["results"] if (r["unit"], r["question"]) == ("urban", "service"))["counts"][
        "very_satisfied"] == 1

    centre.progress.close()  # the server stops: the stream ends, it does not hold the shutdown up
    async with asyncio.timeout(5):
        assert await stream.content.read() == b""
    assert (await lead.get("/api/campaigns/999/events")).status == 404
