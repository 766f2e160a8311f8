"""GET /metrics over HTTP: no session needed; loopback clients in, any other address only with the metrics token
(403 saying why otherwise); and with the database away the scrape still answers 200, database_up 0.

A client's address is what aiohttp saw on the socket: the test client is on loopback, so a test-only middleware
gives the request another address (as aiohttp's forwarded-header middlewares do)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from ivr import keys
from ivr.db.engine import create_engine
from ivr.metrics import jobs
from ivr.metrics import routes as metrics_routes
from ivr.metrics.collector import Metrics
from ivr.metrics.routes import is_loopback
from ivr.secrets import Secrets, ensure_secrets, load_secrets
from ivr.settings import Settings
from ivr.web.auth import auth_middleware

TOKEN = "metrics-token-for-the-test"
ELSEWHERE = "203.0.113.7"
Client = TestClient[web.Request, web.Application]


@web.middleware
async def client_address(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    remote = request.headers.get("X-Test-Remote")
    return await handler(request.clone(remote=remote) if remote else request)


async def serve(token: str, metrics: Metrics) -> Client:
    app = web.Application(middlewares=[client_address, auth_middleware("session-secret")])
    app[keys.SECRETS] = Secrets("", {}, metrics_token=token)
    app[keys.METRICS] = metrics
    metrics_routes.setup_routes(app)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    metrics = Metrics()
    metrics.add("hotline_calls_in_progress", "calls", lambda: 4)
    served = await serve(TOKEN, metrics)
    yield served
    await served.close()


async def test_a_loopback_client_reads_the_metrics_without_a_session(client: Client) -> None:
    response = await client.get("/metrics")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f for f in text_string_to_metric_families(await response.text())}
    assert families["hotline_calls_in_progress"].samples[0].value == 4


async def test_another_address_is_refused_without_the_token_and_let_in_with_it(client: Client) -> None:
    refused = await client.get("/metrics", headers={"X-Test-Remote": ELSEWHERE})
    assert refused.status == 403
    body = await refused.json()
    assert body["error_id"] == "metrics-loopback-only" and "Bearer" in body["message"]
    assert body["details"] == {"client": ELSEWHERE}

    allowed = await client.get("/metrics", headers={"X-Test-Remote": ELSEWHERE, "Authorization": f"Bearer {TOKEN}"})
    assert allowed.status == 200
    assert "hotline_calls_in_progress 4.0" in await allowed.text()


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer", TOKEN])
async def test_a_wrong_token_is_refused_even_from_loopback(client: Client, authorization: str) -> None:
    for remote in ("127.0.0.1", ELSEWHERE):
        response = await client.get("/metrics", headers={"X-Test-Remote": remote, "Authorization": authorization})
        assert response.status == 403
        assert (await response.json())["error_id"] == "metrics-bad-token"


async def test_without_a_token_generated_no_bearer_gets_in() -> None:
    served = await serve("", Metrics())
    try:
        response = await served.get("/metrics", headers={"X-Test-Remote": ELSEWHERE, "Authorization": "Bearer "})
        assert response.status == 403
    finally:
        await served.close()


async def test_with_the_database_away_the_scrape_answers_200_with_database_up_0() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/hotline")  # nothing listens on port 1
    metrics = Metrics()
    jobs.watch_jobs(metrics, engine)
    served = await serve(TOKEN, metrics)
    try:
        response = await served.get("/metrics")
        text = await response.text()
    finally:
        await served.close()
        await engine.dispose()
    assert response.status == 200, text
    assert "hotline_database_up 0.0" in text
    assert 'hotline_scrape_errors_total{part="database"} 1.0' in text


@pytest.mark.parametrize(("remote", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("10.0.0.1", False), ("::ffff:10.0.0.1", False), ("2001:db8::1", False), ("", False), (None, False),
])
def test_loopback_addresses(remote: str | None, loopback: bool) -> None:
    assert is_loopback(remote) is loopback


def test_the_token_is_generated_at_setup_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = ensure_secrets(settings)
    assert len(first.metrics_token) >= 40 and first.metrics_token not in (first.web_secret, first.sms_token)
    assert load_secrets(settings.secrets_file).metrics_token == first.metrics_token
    assert ensure_secrets(settings).metrics_token == first.metrics_token
