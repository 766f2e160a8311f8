"""Every log-in against guessing and enumeration (issue 15, hole 7), and sessions and headers (hole 10).

The desk's PIN log-in, the web users' password log-in and the phone's *21 share one throttle in the database:
per account (soft: it refuses only addresses that are failing) and per address (strict). The clients' addresses
come through X-Forwarded-For from a trusted proxy (web.trusted_proxies), as behind a reverse proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import statistics
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, cast
from unittest import mock

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import keys
from ivr.agents import phone
from ivr.agents.errors import TooManyAttempts
from ivr.agents.service import AgentService
from ivr.agents.store import AgentStore
from ivr.ami.client import AmiClient
from ivr.calls.store import CallStore
from ivr.calls.tracker import CallTracker
from ivr.db.engine import create_engine
from ivr.db.models import LoginFailure
from ivr.desk import routes as desk_routes
from ivr.fastagi import AgiCall
from ivr.intake.context import CallContextFactory, Services
from ivr.secrets import Secrets
from ivr.settings import Settings, WebSettings
from ivr.web import headers, passwords
from ivr.web.auth import COOKIE, CSRF_HEADER, auth_middleware
from ivr.web.logins import LOGINS, MAX_QUEUED_PER_ADDRESS, Logins
from ivr.web.proxies import client_of, forwarded_client
from ivr.workorders import routes as order_routes
from ivr.workorders.admin import STARTER_DIRECTORY, load_directory, read_directory
from ivr.workorders.directory import Directory
from routing.login_limits import LIMITS, Count, lock_after, wait_seconds
from tests.unit.test_desk_api import FakeAmi

SECRET = "logins-test-secret"
PROXY = ("127.0.0.1",)
PASSWORD = "urban-password-1"
NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
ACCOUNT, ADDRESS = LIMITS["account"], LIMITS["address"]


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    engine: AsyncEngine
    pin: str  # agent 1001's

    async def desk(self, agent_id: str, pin: str, address: str) -> ClientResponse:
        return await self.client.post("/api/session", json={"agent_id": agent_id, "pin": pin},
                                      headers={"X-Forwarded-For": address})

    async def portal(self, user: str, password: str, address: str) -> ClientResponse:
        return await self.client.post("/api/portal/session", json={"user": user, "password": password},
                                      headers={"X-Forwarded-For": address})

    async def rows(self) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(LoginFailure))).scalar_one())


def wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 1_000_000:06d}"


def serve(engine: AsyncEngine, agents: AgentStore, directory: Directory, settings: Settings) -> web.Application:
    app = web.Application(middlewares=[forwarded_client(settings.web.trusted_proxies), auth_middleware(SECRET)])
    headers.setup(app)
    app[LOGINS] = Logins.on(engine)
    app[keys.SETTINGS] = settings
    app[keys.SECRETS] = Secrets(ami_password="x", seat_passwords={}, web_secret=SECRET)
    app[keys.AGENT_STORE], app[keys.DIRECTORY] = agents, directory
    ami = FakeAmi({*settings.line_queues, settings.direct_queue})
    app[keys.AMI] = cast(AmiClient, ami)
    app[keys.AGENT_SERVICE] = AgentService(settings, cast(AmiClient, ami), agents)
    desk_routes.setup_routes(app)
    order_routes.setup_routes(app)
    return app


async def open_site(engine: AsyncEngine, settings: Settings) -> tuple[Site, AgentStore]:
    directory = Directory(engine)
    if not await directory.departments():
        await load_directory(directory, read_directory(STARTER_DIRECTORY))
        await directory.add_user("urban.li", "李", "department_staff", PASSWORD, NOW, "urban")
    agents = AgentStore(engine)
    pin = await agents.reset_pin("1001") if await agents.get("1001") else await agents.add("1001", "张三")
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(serve(engine, agents, directory,
                                                                                    settings)))
    await client.start_server()
    return Site(client, engine, pin), agents


@pytest.fixture
async def site(engine: AsyncEngine) -> AsyncIterator[Site]:
    opened, _ = await open_site(engine, Settings(web=WebSettings(trusted_proxies=PROXY)))
    yield opened
    await opened.client.close()


async def refused(response: ClientResponse) -> int:
    """The Retry-After seconds of a 429 answer."""
    assert response.status == 429, await response.text()
    assert (await response.json())["error_id"] == "too-many-attempts"
    assert COOKIE not in response.cookies
    return int(response.headers["Retry-After"])


# The rule


def test_the_account_lock_starts_at_the_limit_and_doubles_up_to_its_cap() -> None:
    locks = [lock_after(n, ACCOUNT) for n in range(ACCOUNT.failures - 1, ACCOUNT.failures + 12)]
    assert locks[:4] == [0, ACCOUNT.lock_seconds, 2 * ACCOUNT.lock_seconds, 4 * ACCOUNT.lock_seconds]
    assert locks[-1] == ACCOUNT.max_lock_seconds and lock_after(10**6, ACCOUNT) == ACCOUNT.max_lock_seconds


def test_a_locked_account_refuses_failing_addresses_only_and_a_locked_address_refuses_everything() -> None:
    locked = Count(ACCOUNT.failures, NOW, NOW + timedelta(seconds=30))
    failing = Count(1, NOW, None)
    assert wait_seconds(locked, failing, NOW) == 30
    assert wait_seconds(locked, None, NOW) == 0  # the owner at a desk that has not failed
    assert wait_seconds(None, Count(ADDRESS.failures, NOW, NOW + timedelta(seconds=900)), NOW) == 900
    assert wait_seconds(locked, failing, NOW + timedelta(seconds=31)) == 0


def test_only_the_right_most_untrusted_forwarded_address_is_the_client() -> None:
    networks = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_of(["203.0.113.9"], networks) == "203.0.113.9"
    assert client_of(["1.2.3.4, 203.0.113.9, 10.0.0.2"], networks) == "203.0.113.9"  # 1.2.3.4: client's claim
    assert client_of(["not-an-address"], networks) is None


# Guessing over HTTP


async def test_desk_pins_guessed_from_one_address_are_refused_with_retry_after(site: Site) -> None:
    for _ in range(ACCOUNT.failures):
        assert (await site.desk("1001", wrong(site.pin), "203.0.113.1")).status == 401
    assert 0 < await refused(await site.desk("1001", site.pin, "203.0.113.1")) <= ACCOUNT.lock_seconds


async def test_guesses_from_many_addresses_lock_the_account_for_them_but_not_for_its_owner(site: Site) -> None:
    # Before, the limit was per address: twelve addresses had five tries each.
    for number in range(ACCOUNT.failures):
        assert (await site.desk("1001", wrong(site.pin), f"198.51.100.{number}")).status == 401
    for number in range(ACCOUNT.failures):
        await refused(await site.desk("1001", wrong(site.pin), f"198.51.100.{number}"))
    assert (await site.desk("1001", wrong(site.pin), "198.51.100.77")).status == 401  # a fresh address: one try
    await refused(await site.desk("1001", site.pin, "198.51.100.77"))
    assert (await site.desk("1001", site.pin, "192.0.2.10")).status == 200  # the agent at their own desk


async def test_without_a_trusted_proxy_a_forwarded_address_is_not_believed(engine: AsyncEngine) -> None:
    site, _ = await open_site(engine, Settings())
    try:
        for number in range(ACCOUNT.failures):
            assert (await site.desk("1001", wrong(site.pin), f"198.51.100.{number}")).status == 401
        await refused(await site.desk("1001", site.pin, "192.0.2.10"))  # all of them were 127.0.0.1
    finally:
        await site.client.close()


async def test_one_address_is_refused_for_every_account_after_its_limit(site: Site) -> None:
    for number in range(ADDRESS.failures):  # one try on each of many ids, known or not
        assert (await site.desk(f"{2000 + number}", "123456", "203.0.113.2")).status == 401
    assert await refused(await site.desk("1001", site.pin, "203.0.113.2")) == ADDRESS.lock_seconds
    await refused(await site.portal("urban.li", PASSWORD, "203.0.113.2"))
    assert (await site.desk("1001", site.pin, "203.0.113.3")).status == 200


async def test_department_passwords_are_throttled_like_pins(site: Site) -> None:
    # Before, the department log-in had no limit at all.
    for _ in range(ACCOUNT.failures):
        assert (await site.portal("urban.li", "guess", "203.0.113.4")).status == 401
    await refused(await site.portal("urban.li", PASSWORD, "203.0.113.4"))
    assert (await site.portal("urban.li", PASSWORD, "203.0.113.5")).status == 200


async def test_a_right_log_in_forgets_the_accounts_failures(site: Site) -> None:
    for _ in range(ACCOUNT.failures - 1):
        assert (await site.desk("1001", wrong(site.pin), "203.0.113.6")).status == 401
    assert (await site.desk("1001", site.pin, "203.0.113.6")).status == 200
    for _ in range(ACCOUNT.failures - 1):
        assert (await site.desk("1001", wrong(site.pin), "203.0.113.6")).status == 401
    assert (await site.desk("1001", site.pin, "203.0.113.6")).status == 200


async def test_huge_ids_are_refused_at_once_and_leave_nothing_behind(site: Site) -> None:
    started = time.monotonic()
    for _ in range(20):
        response = await site.desk("1" * 100_000, "123456", "203.0.113.7")
        assert response.status == 400 and (await response.json())["error_id"] == "too-long"
        response = await site.portal("u" * 100_000, "p" * 100_000, "203.0.113.7")
        assert response.status == 400 and (await response.json())["details"] == {"fields": "user,password"}
    assert time.monotonic() - started < 5  # 40 answers, no hashing
    assert await site.rows() == 0


async def test_a_flood_from_one_address_waits_in_a_bounded_queue(engine: AsyncEngine) -> None:
    throttle = Logins.on(engine).throttle
    entered, release = asyncio.Event(), asyncio.Event()

    async def held() -> None:
        entered.set()
        await release.wait()

    queued = [asyncio.create_task(throttle.attempt("agent", f"{n}", "203.0.113.20", held))
              for n in range(MAX_QUEUED_PER_ADDRESS)]
    await entered.wait()  # the first is checking; the others started with it and wait their turn
    with pytest.raises(TooManyAttempts) as refusal:
        await throttle.attempt("agent", "1001", "203.0.113.20", held)
    assert refusal.value.retry_after == 1
    release.set()
    outcomes = await asyncio.gather(*queued, return_exceptions=True)
    assert outcomes.count(None) == ADDRESS.failures  # then the address was locked for the rest
    assert all(isinstance(outcome, TooManyAttempts) for outcome in outcomes if outcome is not None)
    assert await throttle.attempt("agent", "1001", "203.0.113.21", held) is None  # other addresses go on


async def test_guesses_at_one_account_from_many_addresses_take_turns_beside_other_log_ins(
        engine: AsyncEngine) -> None:
    throttle = Logins.on(engine).throttle
    entered, release = asyncio.Event(), asyncio.Event()
    running: list[str] = []
    most = 0

    async def held() -> None:
        nonlocal most
        running.append("guess")
        most = max(most, len(running))
        entered.set()
        await release.wait()
        running.pop()

    async def right() -> str:
        return "agent 1002"

    guesses = [asyncio.create_task(throttle.attempt("agent", "1001", f"203.0.113.{30 + n}", held)) for n in range(4)]
    await entered.wait()
    async with asyncio.timeout(5):  # not behind the guesses
        assert await throttle.attempt("agent", "1002", "192.0.2.40", right) == "agent 1002"
    release.set()
    await asyncio.gather(*guesses)
    assert most == 1  # the guesses at 1001 hashed one at a time


async def test_rows_whose_window_and_lock_are_over_are_pruned(site: Site) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=1)
    async with site.engine.begin() as connection:
        await connection.execute(insert(LoginFailure), [
            {"kind": "agent", "key": f"{n}", "window_start": long_ago, "failures": 3, "locked_until": None}
            for n in range(50)])
    assert (await site.desk("1001", wrong(site.pin), "203.0.113.8")).status == 401
    assert await site.rows() == 2  # the new failure's account and address rows


async def test_several_servers_share_the_counts(site: Site, engine: AsyncEngine) -> None:
    other, _ = await open_site(engine, Settings(web=WebSettings(trusted_proxies=PROXY)))
    try:
        for _ in range(ACCOUNT.failures):
            assert (await other.desk("1001", wrong(other.pin), "203.0.113.9")).status == 401
        await refused(await site.desk("1001", other.pin, "203.0.113.9"))
    finally:
        await other.client.close()


async def timed(attempt: Awaitable[ClientResponse]) -> float:
    started = time.perf_counter()
    assert (await attempt).status == 401
    return time.perf_counter() - started


async def test_an_unknown_user_costs_the_time_of_a_wrong_password(site: Site, base_settings: Settings) -> None:
    # Before: about 1000 ms for a known user, 25-50 ms for an unknown one. Here a cost that dominates the request.
    passwords.configure(32768, 2)
    try:  # the accounts' hashes made at that cost, as in production
        await Directory(site.engine).add_user("costly.user", "贵", "supervisor", PASSWORD, NOW)
        pin = await AgentStore(site.engine).add("1077", "贵")
        known, unknown = [], []
        for number in range(3):
            known.append(await timed(site.portal("costly.user", "guess", f"192.0.2.{100 + number}")))
            unknown.append(await timed(site.portal("nobody.here", "guess", f"192.0.2.{150 + number}")))
            known.append(await timed(site.desk("1077", wrong(pin), f"192.0.2.{200 + number}")))
            unknown.append(await timed(site.desk("9999", "123456", f"192.0.2.{250 + number}")))
    finally:
        passwords.configure(base_settings.web.password_memory_kib, base_settings.web.password_time_cost)
    assert 0.6 < statistics.median(unknown) / statistics.median(known) < 1.6, (known, unknown)


# The phone's *21


def phone_login(agents: AgentStore, engine: AsyncEngine, seat: str, keys_pressed: tuple[str, str]) -> Any:
    settings = Settings()
    service = AgentService(settings, cast(AmiClient, FakeAmi({*settings.line_queues, settings.direct_queue})),
                           agents)
    services = Services(settings, CallTracker("12345", "citizens", lambda row: None), cast(CallStore, None),
                        PurePosixPath("/sounds"), agents=service, logins=Logins.on(engine).throttle)
    call: Any = mock.create_autospec(AgiCall, instance=True)
    call.uniqueid, call.env = "1700000000.9", {"agi_channel": f"PJSIP/{seat}-00000001"}
    call.get_data.side_effect = list(keys_pressed)
    call.stream_file.return_value = ""
    return call, CallContextFactory(services)(call)


async def press_login(agents: AgentStore, engine: AsyncEngine, seat: str, agent_id: str, pin: str) -> list[str]:
    call, ctx = phone_login(agents, engine, seat, (agent_id, pin))
    async with asyncio.timeout(10):
        await phone.agent_login(call, ctx)
    return [c.args[0].rsplit("/", 1)[1] for c in call.stream_file.await_args_list]


async def test_phone_guesses_are_throttled_per_agent_id_and_seat_with_the_web_log_ins(engine: AsyncEngine) -> None:
    # Before, *21 had no limit: every call had a fresh try.
    agents = AgentStore(engine)
    pin = await agents.add("1001", "张三")
    for _ in range(ACCOUNT.failures):
        assert await press_login(agents, engine, "8001", "1001", wrong(pin)) == ["login-failed"]
    assert await press_login(agents, engine, "8001", "1001", pin) == ["login-failed"]  # hung up after it
    assert "1001" not in await agents.presence()
    site, _ = await open_site(engine, Settings())  # the same agent id at a desk whose address failed too
    try:
        assert (await site.desk("1002", "123456", "127.0.0.1")).status == 401
        await refused(await site.desk("1001", site.pin, "127.0.0.1"))
    finally:
        await site.client.close()
    assert await press_login(agents, engine, "8002", "1001", site.pin) == ["logged-in"]  # a seat that never failed


# Sessions and headers


async def test_a_logged_out_cookie_replayed_is_not_authenticated(site: Site, engine: AsyncEngine) -> None:
    response = await site.desk("1001", site.pin, "192.0.2.1")
    assert response.status == 200
    csrf, cookie = (await response.json())["csrf"], response.cookies[COOKIE].value
    assert (await site.client.get("/api/me")).status == 200
    assert (await site.client.delete("/api/session", headers={CSRF_HEADER: csrf})).status == 200
    site.client.session.cookie_jar.update_cookies({COOKIE: cookie})  # the copy an attacker kept
    assert (await site.client.get("/api/me")).status == 401
    other, _ = await open_site(engine, Settings())  # another server sees the log-out too
    try:
        other.client.session.cookie_jar.update_cookies({COOKIE: cookie})
        assert (await other.client.get("/api/me")).status == 401
    finally:
        await other.client.close()


async def test_with_the_database_away_a_log_out_still_holds_on_this_server() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/hotline")  # nothing listens on port 1
    try:
        revocations = Logins.on(engine).revocations
        await revocations.revoke("gone-session", datetime.now(UTC) + timedelta(hours=1))
        assert await revocations.revoked("gone-session")
        assert not await revocations.revoked("another-session")  # the cookie's signature and expiry decide
    finally:
        await engine.dispose()


async def test_a_logged_out_portal_session_is_refused_too(site: Site) -> None:
    response = await site.portal("urban.li", PASSWORD, "192.0.2.2")
    csrf, cookie = (await response.json())["csrf"], response.cookies[COOKIE].value
    assert (await site.client.delete("/api/portal/session", headers={CSRF_HEADER: csrf})).status == 200
    site.client.session.cookie_jar.update_cookies({COOKIE: cookie})
    assert (await site.client.get("/api/portal/me")).status == 401


async def test_cookies_are_secure_when_the_setting_says_so(site: Site, engine: AsyncEngine) -> None:
    response = await site.desk("1001", site.pin, "192.0.2.3")
    assert not response.cookies[COOKIE]["secure"]
    secure, _ = await open_site(engine, replace(Settings(), web=WebSettings(secure_cookies=True)))
    try:
        response = await secure.desk("1001", secure.pin, "192.0.2.3")
        assert response.status == 200
        assert response.cookies[COOKIE]["secure"] and response.cookies["hotline_csrf"]["secure"]
    finally:
        await secure.client.close()


@pytest.mark.parametrize("method, path", [("GET", "/desk"), ("GET", "/desk/static/desk.js"), ("GET", "/api/me"),
                                          ("GET", "/nowhere"), ("POST", "/api/session")])
async def test_every_answer_carries_the_security_headers_and_no_server_version(site: Site, method: str,
                                                                               path: str) -> None:
    response = await site.client.request(method, path, data=b"{")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe" not in policy
    assert "aiohttp" not in response.headers["Server"] and "Python" not in response.headers["Server"]
