"""Open311 GeoReport v2 through HTTP, on the real stores (SQLite and PostgreSQL): the spec's fields and types,
filing by form and by JSON, the public reads that never show the citizen, every bad input refused with
nothing written, and the status as the order moves through its lifecycle. And `hotline apikey`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import cli, keys
from ivr.db.engine import create_engine
from ivr.db.models import ApiKey, CatalogueEntry, OrderEvent, WorkOrder
from ivr.open311.api_keys import ApiKeyStore
from ivr.open311.routes import setup_routes
from ivr.settings import Open311Settings, Settings, WebSettings, WorkOrderSettings
from ivr.sms.inbox import Incoming, SmsInbox
from ivr.sms.store import SmsStore
from ivr.surveys.store import SurveyStore
from ivr.web.auth import auth_middleware
from ivr.web.input import input_middleware
from ivr.web.proxies import forwarded_client
from ivr.workorders.actors import Actor
from ivr.workorders.directory import Directory
from ivr.workorders.errors import ActionRefused
from ivr.workorders.service import Intake, OrderService

AGENT = Actor("1001", "agent")
SUPERVISOR = Actor("2001", "supervisor")
FORM = "application/x-www-form-urlencoded"
PHONE, NAME = "13812345678", "王小明"
GOOD = {"service_code": "0301", "description": "幸福路路灯不亮一周了，投诉", "address_string": "幸福路12号",
        "first_name": "小明", "last_name": "王", "phone": "138-1234-5678", "email": "wang@example.cn",
        "device_id": "wx-device-1", "media_url": "https://img.example.cn/lamp.jpg"}
SERVICE_FIELDS = {"service_code": str, "service_name": str, "description": str, "metadata": bool, "type": str,
                  "keywords": str, "group": str}
REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url")


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    engine: AsyncEngine
    service: OrderService
    staff: Actor
    key: str  # the wechat client's live key
    revoked: str  # the old app's key, revoked

    async def file(self, expect: int = 201, **changes: Any) -> Any:
        fields = {**GOOD, "api_key": self.key, **changes}
        response = await self.client.post("/open311/v2/requests.json",
                                          data={k: v for k, v in fields.items() if v is not None})
        assert response.status == expect, await response.text()
        return await response.json()

    async def get(self, path: str, expect: int = 200, **query: str) -> Any:
        response = await self.client.get(f"/open311/v2/{path}", params=query)
        assert response.status == expect, await response.text()
        assert response.content_type == "application/json"
        return await response.json()

    async def written(self) -> tuple[int, int]:
        async with self.engine.connect() as connection:
            orders = (await connection.execute(select(func.count()).select_from(WorkOrder))).scalar_one()
            events = (await connection.execute(select(func.count()).select_from(OrderEvent))).scalar_one()
        return int(orders), int(events)

    async def row(self, public_id: str) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(select(WorkOrder).where(WorkOrder.public_id == public_id))).one()

    async def order(self, now: datetime | None = None, publish: bool = True, **changes: Any) -> Any:
        """An order taken on the phone by an agent, published by the centre (unless `publish` is false or the
        order may not be); its row, with its public id."""
        fields: dict[str, Any] = {"channel": "phone", "content": "幸福路路灯不亮", "type": "complaint",
                                  "caller_number": PHONE, "citizen_name": NAME, "topic": "0301",
                                  "address": "幸福路12号", **changes}
        order = await self.service.create(Intake(**fields), AGENT, now or datetime.now(UTC))
        if publish and not order.confidential and order.type != "report":
            await self.service.publish(order.id, AGENT, now or datetime.now(UTC), True)
        async with self.engine.connect() as connection:
            return (await connection.execute(select(WorkOrder).where(WorkOrder.id == order.id))).one()


@pytest.fixture
async def api(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Api]:
    directory = Directory(engine)
    await directory.add_department("city", "市政府")
    urban = await directory.add_department("urban", "城管局", parent="city")
    await directory.add_department("water", "水务集团", "enterprise", parent="city")
    await directory.load_catalogue([
        {"code": "0301", "topic": "路灯故障", "group": "市容环境", "department": "urban",
         "keywords": ["路灯", "灯不亮"]},
        {"code": "0901", "topic": "爆管", "group": "供水", "department": "water", "keywords": ["爆管"]},
        {"code": "0999", "topic": "已停用", "department": "water"},
    ])
    async with engine.begin() as connection:
        await connection.execute(update(CatalogueEntry).where(CatalogueEntry.code == "0999").values(active=False))
    keys_store = ApiKeyStore(engine)
    key = await keys_store.add("wechat", datetime.now(UTC))
    revoked = await keys_store.add("old-app", datetime.now(UTC))
    assert await keys_store.revoke("old-app")
    service = OrderService(engine, directory, WorkOrderSettings(), "Asia/Shanghai", tmp_path / "attachments")
    async with TestClient(TestServer(open311_app(service, Settings()))) as client:
        yield Api(client, engine, service, Actor("urban.staff", "department_staff", urban), key, revoked)


def open311_app(service: OrderService, settings: Settings) -> web.Application:
    """One server's Open311 API over the service's database."""
    # The real middleware stack: the desk's session middleware must leave /open311 alone.
    app = web.Application(middlewares=[forwarded_client(settings.web.trusted_proxies),
                                       auth_middleware("open311-test"), input_middleware])
    app[keys.SETTINGS] = settings
    app[keys.ENGINE] = service.engine
    app[keys.DIRECTORY] = service.directory
    app[keys.ORDERS] = service
    setup_routes(app)
    return app


def spec_error(answer: Any, status: int, *words: str) -> str:
    """The spec's error format: a list of {code, description}; the description names what was wrong."""
    assert isinstance(answer, list) and len(answer) == 1, answer
    assert set(answer[0]) == {"code", "description"} and answer[0]["code"] == status, answer
    description = str(answer[0]["description"])
    for word in words:
        assert word in description, (word, description)
    return description


def local_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(hours=8), "times are ISO 8601 in the centre's zone"
    return moment


# Discovery and services


async def test_discovery_lists_the_json_endpoint(api: Api) -> None:
    for path in ("discovery.json", "discovery"):
        answer = await api.get(path)
        assert isinstance(answer["changeset"], str) and answer["contact"] and answer["key_service"]
        (endpoint,) = answer["endpoints"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"].endswith("/open311/v2") and endpoint["url"].startswith("http://")
        assert endpoint["formats"] == ["application/json"] and endpoint["type"] == "production"
    spec_error(await api.get("discovery.xml", 400), 400, "only JSON")


async def test_services_are_the_active_catalogue_entries(api: Api) -> None:
    services = await api.get("services.json")
    assert [s["service_code"] for s in services] == ["0301", "0901"], "the retired entry is not offered"
    for service in services:
        assert {name: type(value) for name, value in service.items()} == SERVICE_FIELDS
        assert service["metadata"] is False and service["type"] == "realtime"
    lamp = services[0]
    assert (lamp["service_name"], lamp["group"], lamp["keywords"]) == ("路灯故障", "市容环境", "路灯,灯不亮")
    assert "城管局" in lamp["description"]
    assert await api.get("services") == services
    spec_error(await api.get("services.xml", 400), 400, "only JSON")


async def test_a_service_definition_has_no_attributes_and_an_unknown_service_is_404(api: Api) -> None:
    assert await api.get("services/0301.json") == {"service_code": "0301", "attributes": []}
    assert await api.get("services/0301") == {"service_code": "0301", "attributes": []}
    for unknown in ("services/0999.json", "services/nope.json", "services/0301.csv"):
        spec_error(await api.get(unknown, 404), 404, "no service")
    spec_error(await api.get("services/0301.xml", 400), 400, "only JSON")


async def test_a_path_the_api_does_not_have_answers_in_the_spec_format(api: Api) -> None:
    spec_error(await api.get("tokens.json", 404), 404)
    response = await api.client.delete("/open311/v2/requests.json")
    assert response.status == 405
    spec_error(await response.json(), 405)


# Filing and reading back


async def test_a_form_post_files_a_draft_that_reads_back_without_the_citizen(api: Api) -> None:
    before = await api.written()
    answer = await api.file()
    assert isinstance(answer, list) and len(answer) == 1
    assert set(answer[0]) == {"service_request_id", "service_notice", "account_id"}
    number = answer[0]["service_request_id"]
    assert isinstance(number, str) and re.fullmatch(r"[\w-]{22}", number), "a random id, not the order number"
    assert number in answer[0]["service_notice"] and answer[0]["account_id"] is None
    assert await api.written() == (before[0] + 1, before[1] + 1)

    row = await api.row(number)
    assert (row.status, row.source, row.client, row.type, row.topic) == ("draft", "api", "wechat", "complaint", "0301")
    assert row.published and row.number != number
    assert (row.caller_number, row.citizen_name, row.address) == (PHONE, NAME, "幸福路12号")
    async with api.engine.connect() as connection:
        event = (await connection.execute(select(OrderEvent).where(OrderEvent.order_id == row.id))).one()
    assert (event.actor, event.role, event.action) == ("api:wechat", "api", "create")
    assert json.loads(event.data) == {"email": "wang@example.cn", "device_id": "wx-device-1",
                                      "media_url": "https://img.example.cn/lamp.jpg"}

    for path in (f"requests/{number}.json", f"requests/{number}"):
        response = await api.client.get(f"/open311/v2/{path}")
        assert response.status == 200
        text = await response.text()
        assert PHONE not in text and "1234-5678" not in text and NAME not in text and "小明" not in text
        assert "wang@example.cn" not in text and "wx-device-1" not in text
        (shown,) = json.loads(text)
        assert tuple(shown) == REQUEST_FIELDS
        assert shown == shown | {
            "service_request_id": number, "status": "open", "status_notes": None, "service_name": "路灯故障",
            "service_code": "0301", "description": GOOD["description"], "agency_responsible": None,
            "expected_datetime": None, "address": "幸福路12号", "address_id": None, "zipcode": None,
            "lat": None, "long": None, "media_url": "https://img.example.cn/lamp.jpg"}
        assert isinstance(shown["service_notice"], str) and shown["service_notice"]
        assert local_time(shown["requested_datetime"]) == local_time(shown["updated_datetime"])
        assert abs(local_time(shown["requested_datetime"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert await api.get("requests.json") == [], "a draft is followed by its id, never listed"
    spec_error(await api.get(f"requests/{row.number}.json", 404), 404, "no request")


async def test_a_json_post_is_read_like_a_form(api: Api) -> None:
    body = {"api_key": api.key, "service_code": "0901", "description": "请问小区爆管什么时候修好",
            "lat": 31.2304, "long": "121.4737", "last_name": None}
    response = await api.client.post("/open311/v2/requests", json=body)
    assert response.status == 201, await response.text()
    number = (await response.json())[0]["service_request_id"]
    row = await api.row(number)
    assert (row.type, row.topic, row.address, row.citizen_name, row.caller_number) == (
        "consultation", "0901", None, None, None)
    (shown,) = await api.get(f"requests/{number}.json")
    assert (shown["lat"], shown["long"], shown["media_url"]) == (31.2304, 121.4737, None)
    assert isinstance(shown["lat"], float) and isinstance(shown["long"], float)


async def test_a_request_with_only_coordinates_or_a_latin_name_is_filed(api: Api) -> None:
    number = (await api.file(address_string=None, lat="31.2", long="121.5", first_name="Anna",
                             last_name="Li"))[0]["service_request_id"]
    (row,) = await api.get(f"requests/{number}.json")
    assert (row["lat"], row["long"], row["address"]) == (31.2, 121.5, None)
    async with api.engine.connect() as connection:
        name = (await connection.execute(select(WorkOrder.citizen_name))).scalar_one()
    assert name == "Anna Li"


# Bad input: the spec's error format, a clear message, and nothing written


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"service_code": "9999"}, "service_code"),
    ({"service_code": "0999"}, "service_code"),  # retired
    ({"service_code": None}, "service_code is required"),
    ({"service_code": " "}, "service_code is required"),
    ({"description": None}, "description is required"),
    ({"description": "路" * 4001}, "description is at most 4000"),
    ({"address_string": None}, "location is required"),
    ({"address_string": None, "address_id": "A-17"}, "address_id"),
    ({"address_string": "路" * 301}, "address_string"),
    ({"lat": "31.2"}, "lat and long"),
    ({"lat": "north", "long": "121.5"}, "lat must be"),
    ({"lat": "91", "long": "121.5"}, "lat must be between"),
    ({"lat": "31.2", "long": "nan"}, "long must be between"),
    ({"lat": "31.2", "long": "-181"}, "long must be between"),
    ({"email": "not-an-address"}, "email"),
    ({"media_url": "ftp://example.cn/a.jpg"}, "media_url"),
    ({"media_url": "javascript:alert(1)"}, "media_url"),
    ({"phone": "call me"}, "phone"),
    ({"device_id": "d" * 101}, "device_id"),
]


async def test_bad_fields_are_refused_naming_the_field_and_nothing_is_written(api: Api) -> None:
    before = await api.written()
    for changes, words in BAD_FIELDS:
        spec_error(await api.file(400, **changes), 400, words)
    assert await api.written() == before


async def test_a_missing_unknown_or_revoked_key_is_refused(api: Api) -> None:
    before = await api.written()
    for key, words in [(None, "api_key is required"), ("", "api_key is required"), ("guess", "not valid"),
                       (api.revoked, "not valid")]:
        spec_error(await api.file(403, api_key=key), 403, "api_key", words)
    spec_error(await api.file(403, api_key="guess", service_code="9999"), 403, "api_key")  # the key comes first
    await api.file()
    assert await ApiKeyStore(api.engine).revoke("wechat")
    spec_error(await api.file(403), 403, "not valid")
    assert await api.written() == (before[0] + 1, before[1] + 1)


async def test_bodies_that_cannot_be_read_are_refused_and_nothing_is_written(api: Api) -> None:
    before = await api.written()
    url = "/open311/v2/requests.json"
    good_form = f"api_key={api.key}&service_code=0301&description=x&address_string=y"
    over = good_form + "&padding=" + "x" * (64 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):  # 80 KiB, sent chunked: no Content-Length to go by
            yield b"x" * 4096

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"data": over.encode(), "headers": {"Content-Type": FORM}}, 413, "64 KiB"),
        ({"data": chunks(), "headers": {"Content-Type": FORM}}, 413, "64 KiB"),
        ({"data": good_form.encode() + b"&first_name=\xff", "headers": {"Content-Type": FORM}}, 400, "UTF-8"),
        ({"data": (good_form + "&first_name=%FF").encode(), "headers": {"Content-Type": FORM}}, 400, "%-escapes"),
        ({"data": b'{"api_key": "\xff"}', "headers": {"Content-Type": "application/json"}}, 400, "UTF-8"),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
        ({"data": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, 400, "object"),
        ({"json": {"api_key": api.key, "service_code": "0301", "description": ["x"], "address_string": "y"}},
         400, "description must be text"),
        ({"json": {"api_key": api.key, "service_code": "0301", "description": "x", "lat": True, "long": 1}},
         400, "lat must be text"),
        ({"data": good_form.encode(), "headers": {"Content-Type": "text/plain"}}, 415, FORM),
        ({"data": good_form.encode()}, 415, "application/octet-stream"),
        ({"data": b"--b\r\n\r\n--b--", "headers": {"Content-Type": "multipart/form-data; boundary=b"}}, 415,
         "multipart/form-data"),
    ]
    for options, status, words in cases:
        response = await api.client.post(url, **options)
        assert response.status == status, (options.get("headers"), await response.text())
        spec_error(await response.json(), status, words)
    response = await api.client.post("/open311/v2/requests.xml", data=good_form,
                                     headers={"Content-Type": FORM})
    spec_error(await response.json(), 400, "only JSON")
    assert await api.written() == before


# The public view


async def test_confidential_orders_and_reports_are_never_shown(api: Api) -> None:
    plain = await api.order()
    secret = await api.order(confidential=True)
    report = await api.order(type="report", content="举报黑作坊偷排")
    filed_report = (await api.file(description="举报某工地夜间违法施工"))[0]["service_request_id"]
    assert (await api.row(filed_report)).type == "report"

    listed = await api.get("requests.json")
    assert [r["service_request_id"] for r in listed] == [plain.public_id]
    for hidden in (secret.number, report.number, filed_report):
        spec_error(await api.get(f"requests/{hidden}.json", 404), 404, "no request")
    asked = ",".join(str(n) for n in (plain.public_id, secret.number, report.number, filed_report))
    assert [r["service_request_id"] for r in await api.get("requests.json", service_request_id=asked)] == [
        plain.public_id]
    response = await api.client.get("/open311/v2/requests.json")
    text = await response.text()
    assert PHONE not in text and NAME not in text and "黑作坊" not in text


async def test_the_status_follows_the_lifecycle(api: Api) -> None:
    handled = await api.order()
    await api.service.act(handled.id, "dispatch", AGENT, datetime.now(UTC))
    (shown,) = await api.get(f"requests/{handled.public_id}.json")
    assert (shown["status"], shown["status_notes"], shown["agency_responsible"]) == ("open", None, "城管局")
    expected = local_time(shown["expected_datetime"])
    assert expected > local_time(shown["requested_datetime"])
    for action, actor, params in [("sign", api.staff, {}), ("reply", api.staff, {"reply": "路灯已修复"})]:
        await api.service.act(handled.id, action, actor, datetime.now(UTC), params)
    (shown,) = await api.get(f"requests/{handled.public_id}.json")
    assert (shown["status"], shown["status_notes"]) == ("open", None), "the reply is the centre's to check"
    for action, params in [("close", {}), ("visit", {"satisfied": True}), ("evaluate", {})]:
        await api.service.act(handled.id, action, AGENT, datetime.now(UTC), params)
        (shown,) = await api.get(f"requests/{handled.public_id}.json")
        assert (shown["status"], shown["status_notes"]) == ("closed", "路灯已修复"), action
    assert local_time(shown["updated_datetime"]) >= local_time(shown["requested_datetime"])

    draft = (await api.file())[0]["service_request_id"]
    await api.service.act((await api.row(draft)).id, "discard", AGENT, datetime.now(UTC))
    (shown,) = await api.get(f"requests/{draft}.json")
    assert (shown["status"], shown["status_notes"]) == ("closed", "not a request")

    target, follower = await api.order(), await api.order(caller_number="13900000000")
    await api.service.act(follower.id, "merge", AGENT, datetime.now(UTC), {"into": target.number})
    (shown,) = await api.get(f"requests/{follower.public_id}.json")
    assert (shown["status"], shown["status_notes"]) == ("closed", f"merged into {target.public_id}")
    unpublished = await api.order(publish=False)
    another = await api.order(caller_number="13900000001")
    await api.service.act(another.id, "merge", AGENT, datetime.now(UTC), {"into": unpublished.number})
    (shown,) = await api.get(f"requests/{another.public_id}.json")
    assert shown["status_notes"] == "merged into another request", "an unpublished order's number is not shown"


async def test_requests_are_filtered_paged_and_kept_to_the_last_90_days_by_default(api: Api) -> None:
    now = datetime.now(UTC)
    old = await api.order(now - timedelta(days=100))
    lamps = [await api.order(now - timedelta(hours=3 - i)) for i in range(3)]
    burst = await api.order(now - timedelta(minutes=30), topic="0901", content="爆管了")
    await api.service.act(lamps[0].id, "merge", AGENT, now, {"into": lamps[1].number})

    def numbers(rows: list[dict[str, Any]]) -> list[str | None]:
        return [row["service_request_id"] for row in rows]

    newest_first = [burst.public_id, lamps[2].public_id, lamps[1].public_id, lamps[0].public_id]
    assert numbers(await api.get("requests.json")) == newest_first, "the order 100 days old is outside"
    assert numbers(await api.get("requests.json", service_code="0901")) == [burst.public_id]
    assert numbers(await api.get("requests.json", service_code="0301,0901", status="closed")) == [
        lamps[0].public_id]
    assert numbers(await api.get("requests.json", status="open")) == newest_first[:3]
    assert numbers(await api.get("requests.json", page_size="2")) == newest_first[:2]
    assert numbers(await api.get("requests.json", page_size="2", page="2")) == newest_first[2:]
    assert numbers(await api.get("requests.json", page_size="2", page="3")) == []
    local = (now - timedelta(days=101)).astimezone(timezone(timedelta(hours=8)))
    assert numbers(await api.get("requests.json", start_date=local.isoformat())) == [old.public_id]
    assert numbers(await api.get("requests.json", end_date=(now - timedelta(days=99)).isoformat())) == [
        old.public_id]
    window = {"start_date": (now - timedelta(hours=2, minutes=30)).isoformat().replace("+00:00", "Z"),
              "end_date": (now - timedelta(minutes=45)).isoformat()}
    assert numbers(await api.get("requests.json", **window)) == [lamps[2].public_id, lamps[1].public_id]
    assert numbers(await api.get("requests.json", service_request_id=f"{old.public_id}, {burst.public_id}",
                                 status="closed")) == [burst.public_id, old.public_id], "ids outrank other filters"


async def test_bad_filters_are_refused_naming_the_parameter(api: Api) -> None:
    now = datetime.now(UTC)
    for query, words in [
        ({"status": "pending"}, "status is open or closed"),
        ({"start_date": "2026-11-01T08:00:00"}, "start_date needs a time zone"),
        ({"end_date": "yesterday"}, "end_date must be an ISO 8601 time"),
        ({"start_date": now.isoformat(), "end_date": (now - timedelta(days=1)).isoformat()}, "after end_date"),
        ({"start_date": (now - timedelta(days=91)).isoformat(), "end_date": now.isoformat()}, "90 days"),
        ({"page_size": "101"}, "page_size must be a whole number from 1 to 100"),
        ({"page_size": "0"}, "page_size"),
        ({"page": "0"}, "page must be"),
        ({"page": "two"}, "page must be"),
        ({"service_request_id": ",".join(str(n) for n in range(101))}, "at most 100"),
    ]:
        spec_error(await api.get("requests.json", 400, **query), 400, words)
    spec_error(await api.get("requests.xml", 400), 400, "only JSON")
    spec_error(await api.get("requests/1.xml", 400), 400, "only JSON")
    spec_error(await api.get("requests/20261125999999.json", 404), 404, "no request")


# hotline apikey


def test_the_apikey_command_prints_a_key_once_stores_its_hash_and_revokes_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text("")
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"

    def hotline(*words: str) -> tuple[int, str]:
        code = cli.main(["--config", str(config), "--set", f"data_dir={tmp_path}", "--set", f"database_url={url}",
                         *words])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    assert hotline("db", "upgrade")[0] == 0
    code, out = hotline("apikey", "add", "wechat")
    assert code == 0 and "shown only now" in out
    key = re.search(r"API key for wechat: (\S+)", out)
    assert key is not None and len(key.group(1)) >= 43  # token_urlsafe(32)
    code, out = hotline("apikey", "add", "wechat")
    assert code == 1 and "revoke it first" in out, "a live client's key is not replaced by a typo"
    assert hotline("apikey", "list")[1].startswith("wechat\tlive")

    stored = asyncio.run(_key_rows(url))
    assert stored == [("wechat", hashlib.sha256(key.group(1).encode()).hexdigest(), True)]
    assert key.group(1) not in str(stored)

    assert hotline("apikey", "revoke", "wechat")[0] == 0
    code, out = hotline("apikey", "revoke", "wechat")
    assert code == 1 and "no live API key named 'wechat'" in out
    assert asyncio.run(_key_rows(url))[0][2] is False
    code, out = hotline("apikey", "add", "wechat")
    fresh = re.search(r"API key for wechat: (\S+)", out)
    assert code == 0 and fresh is not None and fresh.group(1) != key.group(1), "a revoked client gets a new key"


async def _key_rows(url: str) -> list[tuple[str, str, bool]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(ApiKey.name, ApiKey.key_hash, ApiKey.active))).all()
        return [(name, key_hash, active) for name, key_hash, active in rows]
    finally:
        await engine.dispose()


# Published only, masked, under a random id (issue 15, hole 4)

SMS_FROM = "13912345678"
SMS_TEXT = ("我叫李四，家住幸福路12号3单元501，电话139 1234 5678，身份证110101199003071234，"
            "楼下路灯坏了一周")
PHONE_TEXT = "王小明反映幸福路路灯不亮，回电+86 138-1234-5678或0571-88887777，旧身份证号110101900307123"
PERSONAL = ("李四", "139 1234 5678", "1234 5678", "110101199003071234", "王小明", "138-1234-5678", "1234-5678",
            "88887777", "110101900307123", SMS_FROM, PHONE)


def public_text(answer: Any) -> str:
    text = json.dumps(answer, ensure_ascii=False)
    for personal in PERSONAL:
        assert personal not in text, (personal, text)
    return text


async def test_sms_and_phone_orders_are_public_only_once_published_then_masked_under_a_random_id(api: Api) -> None:
    inbox = SmsInbox(SmsStore(api.engine), SurveyStore(api.engine), lambda: None)
    handled = await inbox.receive(Incoming("kannel-1", SMS_FROM, SMS_TEXT))
    assert handled.order_id is not None and handled.order_number is not None
    phone = await api.order(publish=False, content=PHONE_TEXT)
    sms_number, now = handled.order_number, datetime.now(UTC)

    async def nothing_public() -> None:
        assert await api.get("requests.json") == []
        for number in (sms_number, phone.number):
            spec_error(await api.get(f"requests/{number}.json", 404), 404, "no request")
        assert await api.get("requests.json", service_request_id=f"{sms_number},{phone.number}") == []

    await nothing_public()  # the SMS is a draft, 3 s after it came or ever: nobody at the centre has read it
    with pytest.raises(ActionRefused, match="draft"):
        await api.service.publish(handled.order_id, AGENT, now, True)
    await api.service.act(handled.order_id, "accept", AGENT, now)
    await nothing_public()  # accepted, but not published

    for order_id in (handled.order_id, phone.id):
        await api.service.publish(order_id, SUPERVISOR, now, True)
    listed = await api.get("requests.json")
    text = public_text(listed)
    ids = {row["service_request_id"] for row in listed}
    async with api.engine.connect() as connection:
        stored = dict((await connection.execute(select(WorkOrder.number, WorkOrder.public_id).where(
            WorkOrder.published))).all())
    assert ids == set(stored.values()) and len(ids) == 2
    assert all(re.fullmatch(r"[\w-]{22}", public_id) for public_id in ids), "random, 128 bits"
    by_number = {number: next(r for r in listed if r["service_request_id"] == stored[number])
                 for number in stored}
    assert by_number[sms_number]["description"] == (
        "我叫李*，家住幸福路12号3单元501，电话139 **** 5678，身份证110*************34，楼下路灯坏了一周")
    assert by_number[phone.number]["description"] == (
        "王**反映幸福路路灯不亮，回电+86 138-****-5678或057*-******77，旧身份证号110**********23")
    assert "幸福路12号" in text, "the gist and the place stay readable"
    await nothing_public_by_number(api, [sms_number, phone.number])
    for public_id in ids:
        public_text(await api.get(f"requests/{public_id}.json"))

    await api.service.publish(phone.id, AGENT, now, False)
    assert [r["service_request_id"] for r in await api.get("requests.json")] == [stored[sms_number]]
    async with api.engine.connect() as connection:
        actions = (await connection.execute(select(OrderEvent.actor, OrderEvent.action).where(
            OrderEvent.order_id == phone.id).order_by(OrderEvent.id))).all()
    assert [tuple(a) for a in actions] == [("1001", "create"), ("2001", "publish"), ("1001", "unpublish")]


async def nothing_public_by_number(api: Api, numbers: list[str]) -> None:
    """The sequential order numbers answer 404: nobody can walk the requests."""
    for number in numbers:
        spec_error(await api.get(f"requests/{number}.json", 404), 404, "no request")
    assert await api.get("requests.json", service_request_id=",".join(numbers)) == []


async def test_a_request_filed_on_open311_is_masked_too_and_its_address_and_reply(api: Api) -> None:
    public_id = (await api.file(description="姓名：赵六，手机13700001111，请问路灯什么时候修好", last_name="赵",
                                first_name="六", address_string="幸福路12号，联系人钱七 13700002222")
                 )[0]["service_request_id"]
    (shown,) = await api.get(f"requests/{public_id}.json")
    assert (shown["description"], shown["address"]) == ("姓名：赵*，手机137****1111，请问路灯什么时候修好",
                                                        "幸福路12号，联系人钱* 137****2222")
    row = await api.row(public_id)
    await api.service.act(row.id, "accept", AGENT, datetime.now(UTC))
    await api.service.act(row.id, "close_at_intake", AGENT, datetime.now(UTC), {"reply": "已告知赵六，电话13700001111"})
    (shown,) = await api.get(f"requests/{public_id}.json")
    assert shown["status_notes"] == "已告知赵*，电话137****1111"


async def test_publishing_is_refused_for_confidential_orders_reports_and_departments(api: Api) -> None:
    now = datetime.now(UTC)
    for changes in ({"confidential": True}, {"type": "report"}):
        order = await api.order(publish=False, **changes)
        with pytest.raises(ActionRefused, match="never public"):
            await api.service.publish(order.id, AGENT, now, True)
    plain = await api.order(publish=False)
    await api.service.act(plain.id, "dispatch", AGENT, now)
    with pytest.raises(ActionRefused, match="agents and supervisors"):
        await api.service.publish(plain.id, api.staff, now, True)
    await api.service.publish(plain.id, AGENT, now, True)
    await api.service.edit(plain.id, AGENT, now, {"confidential": True})
    assert await api.get("requests.json") == [], "made confidential after publication: gone at once"


# Rate limits (shared by every server through the database) and bad input


async def test_posts_are_limited_per_client_and_per_address_across_servers(api: Api) -> None:
    limits = Settings(open311=Open311Settings(posts_per_client=3, posts_per_address=5, window_seconds=600))
    other = await ApiKeyStore(api.engine).add("city-portal", datetime.now(UTC))
    async with TestClient(TestServer(open311_app(api.service, limits))) as one, \
            TestClient(TestServer(open311_app(api.service, limits))) as two:
        async def post(client: TestClient[web.Request, web.Application], key: str, expect: int) -> Any:
            response = await client.post("/open311/v2/requests.json", data={**GOOD, "api_key": key})
            assert response.status == expect, await response.text()
            return response

        for client in (one, two, one):
            await post(client, api.key, 201)
        refused = await post(two, api.key, 429)
        spec_error(await refused.json(), 429, "client wechat", "try again in")
        assert 1 <= int(refused.headers["Retry-After"]) <= 600
        await post(one, other, 201)  # another client from the same address: the address's 5th POST
        refused = await post(two, other, 429)
        spec_error(await refused.json(), 429, "this address")
        await post(one, "guess", 429)  # every POST from the address counts, a key guesser's too
    async with api.engine.connect() as connection:
        filed = (await connection.execute(select(func.count()).select_from(WorkOrder))).scalar_one()
    assert filed == 4


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_address_limit(api: Api) -> None:
    limit = Open311Settings(posts_per_address=2)
    for trusted, statuses in [((), [201, 201, 429, 429]), (("127.0.0.1/32",), [201, 201, 429, 201])]:
        settings = Settings(web=WebSettings(trusted_proxies=trusted), open311=limit)
        async with TestClient(TestServer(open311_app(api.service, settings))) as client:
            seen = []
            for forwarded in ("203.0.113.7", "203.0.113.7", "203.0.113.7", "203.0.113.8"):
                response = await client.post("/open311/v2/requests.json", data={**GOOD, "api_key": api.key},
                                             headers={"X-Forwarded-For": forwarded})
                seen.append(response.status)
        assert seen == statuses, (trusted, seen)


async def test_huge_pages_and_dates_long_fields_and_nul_bytes_are_refused_in_the_spec_format(api: Api) -> None:
    for query, words in [
        ({"page": "1" + "0" * 30}, "page must be a whole number from 1 to 10000"),
        ({"page": "10001"}, "page must be"),
        ({"page_size": "9" * 40}, "page_size must be"),
        ({"start_date": "9999-12-31T00:00:00+00:00"}, "start_date must be between the years"),
        ({"end_date": "0001-01-01T00:00:00+08:00"}, "end_date must be between the years"),
        ({"start_date": "2026-11-01T00:00:00+08:00\x00"}, "NUL"),
        ({"service_request_id": "abc\x00def"}, "NUL"),
        ({"service_code": "0301\x00"}, "NUL"),
    ]:
        spec_error(await api.get("requests.json", 400, **query), 400, words)
    spec_error(await api.get("requests/abc%00def.json", 400), 400, "NUL")
    before = await api.written()
    for changes, words in [({"first_name": "明" * 51}, "first_name is at most 50"),
                           ({"last_name": "x" * 51}, "last_name is at most 50"),
                           ({"description": "路灯\x00不亮"}, "NUL"), ({"address_string": "\x00"}, "NUL"),
                           ({"service_code": "9" * 5000}, "service_code")]:
        description = spec_error(await api.file(400, **changes), 400, words)
        assert len(description) < 200, "the message does not echo what was sent"
    response = await api.client.post("/open311/v2/requests.json", json={**GOOD, "api_key": api.key,
                                                                        "email": "a\x00@example.cn"})
    assert response.status == 400
    spec_error(await response.json(), 400, "NUL")
    assert await api.written() == before
