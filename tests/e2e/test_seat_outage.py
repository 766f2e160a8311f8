"""The database stops while an agent is paused: the agent still resumes from the desk, the queue rings their
softphone with the next citizen's call, and the pause and resume are in the database once it is back (PostgreSQL
behind a port the test takes away and gives back)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import select

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.db.models import AgentEvent
from ivr.secrets import Secrets
from ivr.settings import Settings
from tests.helpers import (
    CONVERSATION_MS,
    Hotline,
    PostgresOutage,
    database_with_outage,
    log_in,
    start_hotline,
    wait,
)

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def outage(migrated_templates: dict[str, str]) -> AsyncIterator[tuple[PostgresOutage, str]]:
    async with database_with_outage(migrated_templates["postgresql"]) as reached:
        yield reached


async def test_a_paused_agent_resumes_from_the_desk_while_the_database_is_away_and_takes_the_next_call(
        asterisk: AsteriskProcess, settings: Settings, secrets: Secrets,
        outage: tuple[PostgresOutage, str]) -> None:
    proxy, url = outage
    async with (start_hotline(dataclasses.replace(settings, database_url=url), secrets, asterisk) as hotline,
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as desk):
        pin = await hotline.ensure_agent("1039")
        assert pin is not None
        async with hotline.agent("8039") as softphone:
            await log_in(desk, hotline.web_url + "/api/session", {"agent_id": "1039", "pin": pin})
            async with desk.post(hotline.web_url + "/api/seat/pause", json={"reason": "break"}) as answer:
                assert answer.status == 200, await answer.text()
            await proxy.away()

            async with desk.post(hotline.web_url + "/api/seat/resume") as answer:
                state = await answer.json()
            assert answer.status == 200 and state["seat"]["paused"] is False, state
            connected = hotline.expect_ami_event(
                lambda name, f: name == "AgentConnect" and f.get("MemberName") == "1039")
            citizen = await hotline.citizen_call("12345", hang_up_after_ms=CONVERSATION_MS, caller="13800138039")
            await wait(connected, 5, "the queue did not put the citizen through to agent 1039", softphone)
            assert citizen.process.returncode == 0, citizen.errors

            await proxy.back()
            outbox = hotline.app[keys.AGENT_SERVICE].outbox
            await wait(outbox.empty.wait(), 10, "the resume was not written once the database was back")
        assert await stored_kinds(hotline, "1039") == ["login", "pause", "resume"]


async def stored_kinds(hotline: Hotline, agent_id: str) -> list[str]:
    query = select(AgentEvent.kind).where(AgentEvent.agent_id == agent_id).order_by(AgentEvent.id)
    async with hotline.app[keys.ENGINE].connect() as connection:
        return list((await connection.execute(query)).scalars())
