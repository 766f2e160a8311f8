"""Who sees the wallboard, through HTTP on the real agent store and directory (SQLite and PostgreSQL):
supervisors and administrators (web users, or an agent with the supervisor role) do; agents and departments get
403, nobody logged in 401. A hall screen's display key opens the snapshot, the stream and the page, and nothing
else; a wrong key is refused even beside a supervisor's session; without a key in the secrets no key opens it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import keys
from ivr.agents.store import AgentStore
from ivr.ami.queue_state import QueueState
from ivr.desk import routes as desk
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.wallboard import routes
from ivr.wallboard.live import WallboardHub
from ivr.wallboard.snapshot import DayFigures
from ivr.web.auth import auth_middleware
from ivr.web.logins import LOGINS, Logins
from ivr.workorders import routes as workorders
from ivr.workorders.directory import Directory

SECRET = "wallboard-test-secret"
KEY = "hall-screen-key-1"
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
PASSWORDS = {"lead": "lead-password-1", "admin": "admin-password-1", "urban.li": "urban-password-1"}
Client = TestClient[web.Request, web.Application]
Login = Callable[[str | None], Coroutine[Any, Any, Client]]


async def figures(now: datetime) -> DayFigures:
    return DayFigures(read_at=now, calls={"offered": 3}, orders={"received": 1, "by_type": {}, "overdue": 0})


async def wallboard_app(engine: AsyncEngine, secrets: Secrets) -> tuple[web.Application, dict[str, str]]:
    directory = Directory(engine)
    await directory.add_department("urban", "城管局")
    await directory.add_user("lead", "值班长", "supervisor", PASSWORDS["lead"], NOW)
    await directory.add_user("admin", "管理员", "administrator", PASSWORDS["admin"], NOW)
    await directory.add_user("urban.li", "李", "department_staff", PASSWORDS["urban.li"], NOW, "urban")
    agents = AgentStore(engine)
    pins = {"1001": await agents.add("1001", "坐席一号"), "1901": await agents.add("1901", "班长", role="supervisor")}
    app = web.Application(middlewares=[auth_middleware(SECRET)])
    app[LOGINS] = Logins.on(engine)
    app[keys.SETTINGS] = Settings()
    app[keys.SECRETS] = secrets
    app[keys.AGENT_STORE], app[keys.DIRECTORY] = agents, directory
    app[keys.WALLBOARD] = WallboardHub(Settings(), QueueState(), lambda: True, {}, figures)
    workorders.setup_routes(app)
    desk.setup_routes(app)
    routes.setup_routes(app)
    return app, pins


@pytest.fixture
async def login(engine: AsyncEngine, request: pytest.FixtureRequest) -> AsyncIterator[Login]:
    """A client logged in as the one named (None: nobody), on a server whose secrets hold the display key (or the
    key given as the fixture's parameter: "" for none)."""
    secrets = Secrets(ami_password="x", seat_passwords={}, web_secret=SECRET)
    app, pins = await wallboard_app(engine, dataclasses.replace(secrets, wallboard_key=getattr(request, "param", KEY)))
    server = TestServer(app)
    await server.start_server()
    opened: list[Client] = []

    async def client(who: str | None) -> Client:
        made: Client = TestClient(server)
        await made.start_server()
        opened.append(made)
        if who is not None:
            path, body = (("/api/session", {"agent_id": who, "pin": pins[who]}) if who in pins else
                          ("/api/portal/session", {"user": who, "password": PASSWORDS[who]}))
            response = await made.post(path, json=body)
            assert response.status == 200, await response.text()
        return made

    yield client
    app[keys.WALLBOARD].close()
    for made in opened:
        await made.close()
    await server.close()


async def status_of(client: Client, path: str) -> tuple[int, str | None]:
    response = await client.get(path)
    if response.content_type == "text/event-stream":
        first = await response.content.readline()
        assert first == b"retry: 2000\n"
        response.close()
        return response.status, "stream"
    body = await response.json() if response.content_type == "application/json" else {}
    return response.status, body.get("error_id")


@pytest.mark.parametrize("who", ["lead", "admin", "1901"])
async def test_supervisors_and_administrators_see_the_snapshot_and_the_stream(login: Login, who: str) -> None:
    client = await login(who)
    response = await client.get("/api/wallboard")
    assert response.status == 200
    assert (await response.json())["today"]["offered"] == 3
    assert await status_of(client, "/api/wallboard/events") == (200, "stream")


@pytest.mark.parametrize(("who", "status", "error_id"), [
    ("1001", 403, "not-for-role"), ("urban.li", 403, "not-for-role"), (None, 401, "not-authenticated")])
async def test_agents_departments_and_strangers_are_refused(login: Login, who: str | None, status: int,
                                                            error_id: str) -> None:
    client = await login(who)
    assert await status_of(client, "/api/wallboard") == (status, error_id)
    assert await status_of(client, "/api/wallboard/events") == (status, error_id)


@pytest.mark.parametrize("login", [KEY, ""], ids=["key-set", "no-key-in-secrets"], indirect=True)
async def test_the_display_key_opens_the_wallboard_and_nothing_else(login: Login,
                                                                    request: pytest.FixtureRequest) -> None:
    client = await login(None)
    if request.node.callspec.params["login"]:
        assert (await status_of(client, f"/api/wallboard?key={KEY}"))[0] == 200
        assert await status_of(client, f"/api/wallboard/events?key={KEY}") == (200, "stream")
    else:
        assert await status_of(client, "/api/wallboard?key=") == (403, "bad-display-key"), \
            "secrets without a key: no key, not even an empty one, opens it"
    for path in ("/api/orders", "/api/portal/me", "/api/me", "/api/campaigns"):
        assert (await status_of(client, f"{path}?key={KEY}"))[0] == 401, f"{path} opened by the display key"


async def test_a_wrong_key_is_refused_even_beside_a_supervisors_session(login: Login) -> None:
    for client in (await login(None), await login("lead")):
        assert await status_of(client, "/api/wallboard?key=hall-screen-key-2") == (403, "bad-display-key")
        assert await status_of(client, "/api/wallboard/events?key=") == (403, "bad-display-key")


async def test_the_page_and_its_chart_library_are_served_and_the_page_keeps_the_key_to_itself(login: Login) -> None:
    client = await login(None)
    page = await client.get(f"/wallboard?key={KEY}")
    assert page.status == 200 and "排队数" in await page.text()
    assert page.headers["Referrer-Policy"] == "no-referrer"
    library = await client.get("/wallboard/static/vendor/chart.umd.min.js")
    assert library.status == 200 and "Chart.js v4" in (await library.text())[:200]
