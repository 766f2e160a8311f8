"""The SMS channel's rules: delivery reports in any order, Kannel's answers, the wait before a retry; Kannel's
configuration for incoming SMS (retried when our server did not take them, nothing texted back); the endpoints
refuse a bad token and malformed input, and answer 503 with an empty body while the database is away (so that
smsbox tries again); bad data is never a 503: an SMS with a NUL byte is stored without it (PostgreSQL refuses NUL)
and becomes its order, over-long values are refused with a 400 and kept."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ivr import keys
from ivr.db.models import SmsMessage, WorkOrder
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.sms import delivery, routes
from ivr.sms.inbox import SmsInbox
from ivr.sms.kannel import KannelLayout, render, server_url
from ivr.sms.outbox import enqueue
from ivr.sms.store import SmsStore
from ivr.surveys.store import SurveyStore
from ivr.web.access_log import AccessLogger, without_values
from ivr.web.auth import auth_middleware
from routing.sms_text import LONGEST_TEXT

SECRETS = Secrets("", {}, "", kannel_admin_password="adm", sms_password="snd", sms_token="tok")


@pytest.mark.parametrize(("status", "report", "after"), [
    ("sending", 1, "delivered"), ("sent", 1, "delivered"), ("unknown", 1, "delivered"),
    ("delivered", 8, "delivered"), ("delivered", 4, "delivered"), ("sending", 8, "sent"), ("unknown", 4, "sent"),
    ("sent", 2, "failed"), ("delivered", 16, "failed"), ("failed", 1, "failed"), ("queued", 1, "queued"),
    ("sent", 99, "sent"),
])
def test_delivery_reports_in_any_order(status: str, report: int, after: str) -> None:
    assert delivery.after_report(status, report) == after


def test_kannels_answers_and_the_growing_wait() -> None:
    assert [delivery.outcome_of_answer(status) for status in (202, 200, 400, 403, 500, 503)] == [
        "sent", "sent", "failed", "failed", "retry", "retry"]
    assert [delivery.retry_wait(attempts, 5, 60) for attempts in (1, 2, 3, 4, 5, 9)] == [5, 10, 20, 40, 60, 60]
    assert delivery.DLR_MASK == 31


def test_incoming_sms_are_retried_by_smsbox_and_nothing_is_texted_back(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    sms = dataclasses.replace(settings.sms, incoming_retries=12, incoming_retry_seconds=15)
    text = render(dataclasses.replace(settings, sms=sms), SECRETS, KannelLayout(tmp_path))
    smsbox = text.split("group = smsbox\n")[1].split("group =")[0]
    assert "http-request-retry = 12" in smsbox and "http-queue-delay = 15" in smsbox
    service = text.split("group = sms-service\n")[1]
    assert "max-messages = 0" in service and 'omit-empty = "true"' in service
    assert "max-messages = 10" in text.split("group = sendsms-user\n")[1]


def test_kannel_reaches_a_server_listening_everywhere_on_loopback(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    everywhere = dataclasses.replace(settings, web=dataclasses.replace(settings.web, host="0.0.0.0", port=8443))
    assert server_url(everywhere, "/api/sms/dlr") == "http://127.0.0.1:8443/api/sms/dlr"
    assert server_url(settings, "/x") == "http://127.0.0.1:8080/x"


@asynccontextmanager
async def kannels_endpoints(engine: AsyncEngine) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """Kannel's endpoints behind the real auth middleware, on the engine's database, with the server's access log."""
    app = web.Application(middlewares=[auth_middleware("web-secret")])
    store = SmsStore(engine)
    app[keys.SECRETS] = SECRETS
    app[keys.SMS_STORE] = store
    app[keys.SMS_INBOX] = SmsInbox(store, SurveyStore(engine), lambda: None)
    routes.setup_routes(app)
    server = TestServer(app)
    await server.start_server(access_log_class=AccessLogger)
    client = TestClient(server)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def client_without_database(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """Kannel's endpoints with a database that is not there."""
    engine = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    async with kannels_endpoints(engine) as client:
        yield client
    await engine.dispose()


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with kannels_endpoints(engine) as client:
        yield client


async def incoming_rows(engine: AsyncEngine) -> list[SmsMessage]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(SmsMessage).where(SmsMessage.direction == "in")
                                         .order_by(SmsMessage.id))).all()
    return [SmsMessage(**row._asdict()) for row in rows]


async def test_a_bad_token_and_malformed_input_are_refused_with_a_message(
        client_without_database: TestClient[web.Request, web.Application]) -> None:
    client = client_without_database
    for query, status, message in [
        ({"from": "13800138000", "text": "x", "id": "1"}, 403, "bad or missing token"),
        ({"token": "wrong", "from": "13800138000", "text": "x", "id": "1"}, 403, "bad or missing token"),
        ({"token": "tok", "from": "12345", "text": "x"}, 400, "id is missing"),
    ]:
        response = await client.get("/api/sms/incoming", params=query)
        assert response.status == status and message in await response.text()
    response = await client.get("/api/sms/dlr", params={"token": "tok", "id": "x", "status": "1"})
    assert response.status == 400 and "id is missing or not a message id" in await response.text()


async def test_the_database_away_is_a_503_with_an_empty_body_so_that_kannel_retries(
        client_without_database: TestClient[web.Request, web.Application]) -> None:
    client = client_without_database
    query = {"token": "tok", "from": "13800138000", "to": "12345", "text": "路灯坏了", "id": "k1"}
    response = await client.get("/api/sms/incoming", params=query)
    assert (response.status, await response.text()) == (503, "")
    response = await client.post("/api/sms/incoming", data=query)
    assert (response.status, await response.text()) == (503, "")
    response = await client.get("/api/sms/dlr", params={"token": "tok", "id": "3", "status": "1"})
    assert (response.status, await response.text()) == (503, "")


@pytest.mark.parametrize("method", ["body", "GET", "form"])
async def test_an_sms_with_a_nul_byte_is_stored_without_it_and_becomes_its_order(
        client: TestClient[web.Request, web.Application], engine: AsyncEngine, method: str) -> None:
    """As Kannel's post-url sends it (the text the body, in the charset it names), or its text a field."""
    text = "人民路\x00路灯\x07坏了\n三天"
    fields = {"token": "tok", "from": "13800138000", "to": "12345", "id": "k\x001"}
    if method == "body":
        response = await client.post("/api/sms/incoming", params=fields, data=text.encode("utf-16-be"),
                                     headers={"Content-Type": 'text/plain; charset="UTF-16BE"'})
    elif method == "GET":
        response = await client.get("/api/sms/incoming", params=fields | {"text": text})
    else:
        response = await client.post("/api/sms/incoming", data=fields | {"text": text})
    assert (response.status, await response.text()) == (200, ""), "taken: not a 503 Kannel would retry in vain"
    [kept] = await incoming_rows(engine)
    assert (kept.dedup_key, kept.number, kept.text, kept.status) == ("in:k1", "13800138000", "人民路路灯坏了\n三天",
                                                                     "handled")
    async with engine.connect() as connection:
        [order] = (await connection.execute(select(WorkOrder.id, WorkOrder.content, WorkOrder.source))).all()
        [ack] = (await connection.execute(select(SmsMessage.purpose).where(SmsMessage.direction == "out"))).all()
    assert (order.id, order.content, order.source, ack.purpose) == (kept.order_id, "人民路路灯坏了\n三天", "sms", "ack")


async def test_over_long_values_and_nul_bytes_are_refused_or_cleaned_never_a_5xx(
        client: TestClient[web.Request, web.Application], engine: AsyncEngine) -> None:
    citizen = {"token": "tok", "from": "13800138000", "to": "12345", "text": "路灯坏了"}
    for fields, status, message in [
        (citizen | {"id": "k" * 65}, 400, "id is longer than 64"),
        (citizen | {"id": "a1", "from": "1" * 33}, 400, "from is longer than 32 characters"),
        (citizen | {"id": "a2", "from": "1380013\x00800"}, 400, "from: '1380013800' is not an 11-digit"),
        (citizen | {"id": "a3", "text": "路" * (LONGEST_TEXT + 1)}, 400, "text is longer than an SMS can be"),
    ]:
        response = await client.post("/api/sms/incoming", data=fields)
        assert (response.status, message in await response.text()) == (status, True), fields["id"][:8]
    binary = await client.post("/api/sms/incoming", params=citizen | {"id": "a4"}, data=b"\x00ab\xff",
                               headers={"Content-Type": "application/octet-stream"})
    assert binary.status == 200, "a binary SMS's bytes are kept as what text they hold"
    rejected = {row.dedup_key: (row.status, row.number, row.text[:4], len(row.text))
                for row in await incoming_rows(engine)}
    assert rejected == {"in:a1": ("rejected", "1" * 32, "路灯坏了", 4),
                        "in:a2": ("rejected", "1380013800", "路灯坏了", 4),
                        "in:a3": ("rejected", "13800138000", "路路路路", LONGEST_TEXT),
                        "in:a4": ("handled", "13800138000", "ab\ufffd", 3)}, "kept, cleaned and cut, with the reason"
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await enqueue(connection, number="13800138000", text="回访", purpose="survey", dedup_key="survey:1", now=now)
        message_id = (await connection.execute(select(SmsMessage.id).where(SmsMessage.dedup_key == "survey:1"))
                      ).scalar_one()
    for query, status in [({"id": "99999999999", "status": "1"}, 400), ({"id": "١", "status": "1"}, 400),
                          ({"id": str(message_id), "status": "99999999999999999999"}, 400),
                          ({"id": str(message_id), "status": "8", "answer": "ACK\x00/\x01"}, 200)]:
        response = await client.get("/api/sms/dlr", params={"token": "tok", **query})
        assert response.status == status, (query, await response.text())
    async with engine.connect() as connection:
        dlr = (await connection.execute(select(SmsMessage.dlr).where(SmsMessage.id == message_id))).scalar_one()
    assert dlr == "smsc-submit ACK/"


async def test_the_access_log_has_neither_the_token_nor_the_citizens_number_nor_the_text(
        client_without_database: TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    query = {"token": "tok", "from": "13800138000", "to": "12345", "text": "路灯坏了", "id": "k1"}
    await client_without_database.get("/api/sms/incoming", params=query,
                                      headers={"Referer": "http://hotline/wallboard?key=hall-key"})
    await client_without_database.get("/api/sms/dlr", params={"token": "tok", "id": "3", "status": "1"})
    lines = [(record.getMessage(), vars(record)) for record in caplog.records if record.name == "aiohttp.access"]
    assert [message.split('"')[1] for message, _ in lines] == [
        "GET /api/sms/incoming?token&from&to&text&id HTTP/1.1", "GET /api/sms/dlr?token&id&status HTTP/1.1"]
    for secret in ("=tok", "13800138000", "12345", "%E8%B7%AF", "路灯", "hall-key", "k1"):
        assert not any(secret in str(line) for line in lines), f"{secret} is in the access log (or its extra fields)"
    assert '"http://hotline/wallboard?key"' in lines[0][0]


def test_only_the_names_of_query_parameters_are_logged() -> None:
    assert without_values("/api/sms/dlr?token=t&id=3&status=1") == "/api/sms/dlr?token&id&status"
    assert without_values("/healthz") == "/healthz" and without_values("-") == "-"
    assert without_values("/x?13800138000&a=1&=2&b") == "/x?…&a&…&b", "a value sent as a name is not a name"
    assert without_values("https://h/wallboard?key=k#top") == "https://h/wallboard?key"
