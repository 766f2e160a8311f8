"""The SMS channel's rules: delivery reports in any order, Kannel's answers, the wait before a retry; Kannel's
configuration for incoming SMS (retried when our server did not take them, nothing texted back); the endpoints
refuse a bad token and malformed input, and answer 503 with an empty body while the database is away (so that
smsbox tries again)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import create_async_engine

from ivr import keys
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.sms import delivery, routes
from ivr.sms.inbox import SmsInbox
from ivr.sms.kannel import KannelLayout, render, server_url
from ivr.sms.store import SmsStore
from ivr.surveys.store import SurveyStore
from ivr.web.auth import auth_middleware

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


@pytest.fixture
async def client_without_database(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """Kannel's endpoints behind the real auth middleware, with a database that is not there."""
    engine = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    app = web.Application(middlewares=[auth_middleware("web-secret")])
    store = SmsStore(engine)
    app[keys.SECRETS] = SECRETS
    app[keys.SMS_STORE] = store
    app[keys.SMS_INBOX] = SmsInbox(store, SurveyStore(engine), lambda: None)
    routes.setup_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()
    await engine.dispose()


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
