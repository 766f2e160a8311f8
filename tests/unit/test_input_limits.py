"""Input the database cannot hold is refused with a 4xx that names it, never a 500, and nothing is stored: ids beyond
PostgreSQL's integer on every route with an id (found by walking the app's router, so new routes are covered),
texts longer than their column, NUL characters in parameters, JSON and file names, attachments up to the documented
20 MB (larger: 413), and a last resort for whatever the edge misses. On SQLite and PostgreSQL: the refusals are
PostgreSQL's, SQLite would store every one of these values."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import PurePosixPath

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.app import build_app
from ivr.asterisk.layout import AsteriskLayout
from ivr.db.limits import INT_MAX, text_limits
from ivr.db.models import Attachment, Department, KnowledgeEntry, WorkOrder
from ivr.knowledge.entries import parse_entry
from ivr.knowledge.errors import BadEntry
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.web.auth import COOKIE, CSRF_HEADER, auth_middleware, csrf_token, issue_token
from ivr.web.input import input_middleware, row_ids
from ivr.web.logins import LOGINS, Logins
from tests.unit import test_knowledge, test_orders_api
from tests.unit.test_knowledge import Api, add
from tests.unit.test_orders_api import Centre, file

BEYOND = [str(INT_MAX + 1), str(10**30), "²", "-1", "1e3"]  # "²" passes str.isdigit() but not int()
SAMPLES = {"action": "pause", "name": "report.csv"}  # a value each non-id parameter's pattern accepts
Client = TestClient[web.Request, web.Application]
centre, api = test_orders_api.centre, test_knowledge.api  # their fixtures: an order centre, the knowledge API


# Ids: every route, by walking the router

def id_routes(app: web.Application) -> Iterator[tuple[str, str, list[str], list[str]]]:
    """(method, path template, parameter names, row ids) of each route whose path holds an id, sub-applications'
    too."""
    for resource in app.router.resources():
        info = resource.get_info()
        if "app" in info:
            yield from id_routes(info["app"])
        elif ids := row_ids(resource):
            yield from ((route.method, info["formatter"], re.findall(r"{(\w+)}", info["formatter"]), ids)
                        for route in resource if route.method != "HEAD")


@pytest.fixture
async def whole_app(settings: Settings, secrets: Secrets, engine: AsyncEngine
                    ) -> AsyncIterator[tuple[Client, web.Application]]:
    """The server's own routes and middlewares, with an agent's session; none of its parts started but the
    session check (an id is refused before any handler runs)."""
    app = build_app(settings, secrets, AsteriskLayout(None, PurePosixPath("/nowhere")))
    app.cleanup_ctx.clear()
    app.on_shutdown.clear()
    app[LOGINS] = Logins.on(engine)
    async with TestClient(TestServer(app)) as client:
        token = issue_token(secrets.web_secret, "1001")
        client.session.cookie_jar.update_cookies({COOKIE: token})
        client.session.headers[CSRF_HEADER] = csrf_token(secrets.web_secret, token)
        yield client, app


@pytest.mark.parametrize("value", BEYOND)
async def test_every_route_with_an_id_refuses_one_the_database_cannot_hold(
        whole_app: tuple[Client, web.Application], value: str) -> None:
    client, app = whole_app
    routes = list(id_routes(app))
    templates = {template for _method, template, _names, _ids in routes}
    assert {"/api/orders/{order_id}", "/api/orders/{order_id}/attachments/{attachment_id}", "/api/knowledge/{id}",
            "/api/campaigns/{campaign_id}", "/api/voicemails/{order_id}/retry", "/api/surveys/{survey_id}/appeal",
            "/api/reports/runs/{run_id}/{name}"} <= templates, templates
    wrong = []
    for method, template, names, ids in routes:
        for bad in ids:
            path = template.format(**{name: value if name == bad else "1" if name in ids else SAMPLES.get(name, "x")
                                      for name in names})
            response = await client.request(method, path, json={})
            answer = await response.json() if response.content_type == "application/json" else {}
            if not isinstance(answer, dict) or (answer.get("error_id"), answer.get("details")) != (
                    "bad-id", {"field": bad}) or response.status != 400 or str(INT_MAX) not in answer["message"]:
                wrong.append((method, path, response.status, answer))
    assert not wrong, wrong
    assert len(routes) >= 18


async def test_the_largest_id_is_looked_up_and_one_beyond_refused(centre: Centre) -> None:
    """An id the database can hold and has no row for is the feature's 404; one it cannot hold is 400: it is not
    an id at all."""
    agent = await centre.client("1001")
    missing = await agent.get(f"/api/orders/{INT_MAX}")
    assert missing.status == 404 and (await missing.json())["error_id"] == "order-not-found"
    beyond = await agent.get(f"/api/orders/{INT_MAX + 1}")
    assert beyond.status == 400 and (await beyond.json())["details"] == {"field": "order_id"}
    paged = await agent.get("/api/orders", params={"page": str(10**30)})
    assert paged.status == 400 and (await paged.json())["details"] == {"field": "page"}


# Texts longer than their column

async def test_an_order_field_longer_than_its_column_is_named_with_its_limit_and_nothing_is_stored(
        centre: Centre) -> None:
    agent = await centre.client("1001")
    limits = text_limits(WorkOrder)
    before = await centre.orders()
    for field in ("citizen_name", "address", "caller_number"):
        response = await agent.post("/api/orders", json={"content": "路灯不亮", field: "张" * (limits[field] + 1)})
        answer = await response.json()
        assert response.status == 400, answer
        assert answer["details"] == {"field": field, "limit": str(limits[field])}
        assert str(limits[field]) in answer["message"]
    assert await centre.orders() == before
    order = await file(agent, citizen_name="张" * limits["citizen_name"], address="路" * limits["address"])
    assert len(order["citizen_name"]) == limits["citizen_name"], "a value of exactly the column's length fits"
    edited = await agent.patch(f"/api/orders/{order['id']}", json={"address": "路" * (limits["address"] + 1)})
    assert edited.status == 400 and (await edited.json())["details"]["field"] == "address"
    async with centre.engine.connect() as connection:
        address = (await connection.execute(select(WorkOrder.address).where(WorkOrder.id == order["id"]))).scalar()
    assert address == "路" * limits["address"], "the edit changed nothing"


async def test_a_knowledge_entry_longer_than_its_columns_is_refused_naming_the_field(api: Api) -> None:
    api.as_user("urban-staff")
    limits = text_limits(KnowledgeEntry)
    refused = await api.call("POST", "/api/knowledge", 400, {"title": "题" * (limits["title"] + 1), "body": "答"})
    assert refused["details"] == {"field": "title", "limit": str(limits["title"])}
    refused = await api.call("POST", "/api/knowledge", 400, {"title": "路灯", "body": "答", "source": "文" * 301})
    assert refused["details"]["field"] == "source"
    made = await api.call("POST", "/api/knowledge", 201, {"title": "题" * limits["title"], "body": "答"})
    edit = await api.call("PUT", f"/api/knowledge/{made['id']}", 400, {"title": "题" * (limits["title"] + 1)})
    assert edit["details"]["field"] == "title"
    async with api.kb.store.engine.connect() as connection:
        titles = (await connection.execute(select(KnowledgeEntry.title))).scalars().all()
    assert titles == ["题" * limits["title"]]


def test_an_imported_knowledge_entry_is_held_to_the_same_limits() -> None:
    """`hotline knowledge import` reads entries through the same parse as the web form."""
    with pytest.raises(BadEntry) as long:
        parse_entry({"title": "题" * 301, "body": "答"})
    assert long.value.details == {"field": "title", "limit": "300"}
    with pytest.raises(BadEntry) as nul:
        parse_entry({"title": "题", "body": "答\x00", "keywords": ["路灯"]})
    assert nul.value.details == {"field": "body"}


# NUL characters

async def test_a_nul_in_a_search_or_any_json_text_is_refused_naming_where(centre: Centre) -> None:
    agent = await centre.client("1001")
    before = await centre.orders()
    searched = await agent.get("/api/orders/search", params={"q": "路灯\x00"})
    assert searched.status == 400 and (await searched.json())["details"] == {"field": "q"}
    for body, where in [({"content": "路灯\x00不亮"}, "content"),
                        ({"content": "路灯", "then": "dispatch", "department": "urban", "assisting": ["wa\x00ter"]},
                         "assisting[0]"),
                        ({"content": "路灯", "knowledge_entry": INT_MAX + 1}, "knowledge_entry"),
                        ({"content": "路灯", "x\x00": 1}, "x\x00")]:
        response = await agent.post("/api/orders", json=body)
        answer = await response.json()
        assert response.status == 400 and answer["details"] == {"field": where}, answer
    assert await centre.orders() == before


async def test_a_nul_in_a_knowledge_search_or_use_is_refused(api: Api) -> None:
    entry = await add(api.kb, "urban", "路灯报修", "拨打12345报修。")
    api.as_user("1001")
    assert (await api.call("GET", "/api/knowledge?q=%E8%B7%AF%00", 400))["details"] == {"field": "q"}
    used = await api.call("POST", f"/api/knowledge/{entry}/use", 400, {"order": INT_MAX + 1})
    assert used["details"] == {"field": "order"}
    used = await api.call("POST", f"/api/knowledge/{entry}/use", 400, {"call": "1" * 65})
    assert used["details"] == {"field": "call", "limit": "64"}


# Attachments

async def attachments(centre: Centre) -> int:
    async with centre.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(Attachment))).scalar_one())


async def test_an_attachment_up_to_20_mb_is_kept_whole_and_a_larger_one_is_413(centre: Centre) -> None:
    agent = await centre.client("1001")
    order = await file(agent)
    data = hashlib.sha256(b"seed").digest() * (int(19.9 * 1024 * 1024) // 32)
    upload = aiohttp.FormData()
    upload.add_field("file", io.BytesIO(data), filename="现场照片.jpg", content_type="image/jpeg")
    attached = await agent.post(f"/api/orders/{order['id']}/attachments", data=upload)
    assert attached.status == 201, await attached.text()
    (kept,) = (await attached.json())["attachments"]
    download = await agent.get(f"/api/orders/{order['id']}/attachments/{kept['id']}")
    assert download.status == 200 and await download.read() == data
    for size in (21 * 1024 * 1024, 20 * 1024 * 1024 + 1):  # announced in Content-Length; found while reading
        upload = aiohttp.FormData()
        upload.add_field("file", io.BytesIO(b"\x00" * size), filename="big.bin")
        refused = await agent.post(f"/api/orders/{order['id']}/attachments", data=upload)
        answer = await refused.json()
        assert refused.status == 413 and answer["error_id"] == "too-large" and "20 MB" in answer["message"], answer
    assert await attachments(centre) == 1


@pytest.mark.parametrize("name", ["a\x00b.jpg", "../../etc/passwd", "..\\..\\boot.ini", "line\nbreak.txt", "tab\t.jpg"])
async def test_a_file_name_with_a_nul_a_folder_or_a_control_character_is_refused(centre: Centre, name: str) -> None:
    agent = await centre.client("1001")
    order = await file(agent)
    boundary = "hotline-test-boundary"
    quoted = name.replace("\\", "\\\\")  # a backslash in a quoted string is sent as \\
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\nphoto\r\n--{boundary}--\r\n").encode()
    response = await agent.post(f"/api/orders/{order['id']}/attachments", data=body,
                                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert 400 <= response.status < 500, await response.text()
    assert await attachments(centre) == 0


# The last resort: what the edge misses is still a 4xx

@pytest.fixture
async def probe(engine: AsyncEngine) -> AsyncIterator[Client]:
    """Handlers that hand the database what it refuses, or fail in the ways that keep their own answers."""
    async def long_code(request: web.Request) -> web.Response:
        async with engine.begin() as connection:
            await connection.execute(insert(Department).values(code="c" * 65, name="部门"))
        return web.json_response({}, status=201)

    async def huge_id(request: web.Request) -> web.Response:
        async with engine.connect() as connection:
            await connection.execute(select(WorkOrder).where(WorkOrder.id == 10**30))
        return web.json_response({})

    async def away(request: web.Request) -> web.Response:
        raise OperationalError("SELECT 1", {}, OSError("connection refused"))

    async def conflict(request: web.Request) -> web.Response:
        raise IntegrityError("INSERT", {}, ValueError("duplicate key"))

    app = web.Application(middlewares=[auth_middleware("probe-secret"), input_middleware])
    for path, handler in [("/long-code", long_code), ("/huge-id", huge_id), ("/away", away), ("/conflict", conflict)]:
        app.router.add_post(path, handler)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_a_value_the_database_refuses_is_400_with_a_log_line_and_its_errors_keep_their_answers(
        probe: Client, engine: AsyncEngine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "ivr.web.input"):
        huge = await probe.post("/huge-id")
        assert huge.status == 400 and (await huge.json())["error_id"] == "bad-input"
        long = await probe.post("/long-code")
    if engine.dialect.name == "postgresql":
        assert long.status == 400 and (await long.json())["error_id"] == "bad-input"
    else:
        assert long.status == 201, "SQLite keeps a text longer than its column"
    assert "POST /huge-id: the database refused a value" in caplog.text
    assert (await probe.post("/away")).status == 503
    assert (await probe.post("/conflict")).status == 409
