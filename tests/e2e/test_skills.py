"""Skills routing through the real Asterisk: lines chosen by a key, 40 seats, penalties relaxing with the wait,
and the repeat caller who reaches the agent who took their order."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from ivr import keys
from ivr.db.models import Call
from ivr.democall import Sipp
from ivr.settings import RelaxStep, Settings
from tests.helpers import CARRIER_IP, Hotline, agent_for, log_in, run_sipp, wait

pytestmark = pytest.mark.asterisk

GENERAL_SEATS = [str(seat) for seat in range(8001, 8031)]
ENTERPRISE_SEATS = [str(seat) for seat in range(8031, 8036)]
DIALECT_SEATS = [str(seat) for seat in range(8036, 8041)]
RELAX_AFTER = 6  # seconds: fallback agents may answer from the first announcement on


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    """Fallback agents (penalty 10) allowed after 6 s instead of a minute, so the test need not wait."""
    routing = dataclasses.replace(base_settings.routing, relax=(RelaxStep(0, 9), RelaxStep(RELAX_AFTER, 10)))
    return dataclasses.replace(base_settings, data_dir=tmp_path, database_url="", routing=routing)


async def call_with_key(hotline: Hotline, caller: str, key: str, talk_ms: int) -> None:
    """A citizen presses `key` during the greeting (or nothing) and hangs up `talk_ms` after that."""
    if key:
        citizen = await hotline.citizen_call("12345", talk_ms, caller=caller, scenario="citizen_chooses_line.xml",
                                             digit=key)
    else:
        citizen = await hotline.citizen_call("12345", talk_ms + 1000, caller=caller)
    assert citizen.process.returncode == 0, citizen.errors


def citizens(hotline: Hotline, caller: str, key: str, calls: int, talk_ms: int) -> Sipp:
    """`calls` citizens at once from one number, each pressing `key` during the greeting (none: no key)."""
    return Sipp(scenario="citizen_chooses_line.xml" if key else "citizen_hangs_up.xml", target=hotline.sip_target,
                local_ip=CARRIER_IP, service="12345", variables={"caller": caller, **({"digit": key} if key else {})},
                pause_ms=talk_ms, timeout_s=talk_ms // 1000 + 30, calls=calls, rate=5)


async def test_forty_seats_each_line_answered_by_its_own_agents_one_call_each(hotline: Hotline) -> None:
    groups = {"13900000000": ("", 20, "hotline-general", GENERAL_SEATS),
              "13910000000": ("1", 4, "hotline-enterprise", ENTERPRISE_SEATS),
              "13920000000": ("2", 4, "hotline-dialect", DIALECT_SEATS)}
    async with AsyncExitStack() as seats:
        for group, skills in [(GENERAL_SEATS, "general"), (ENTERPRISE_SEATS, "enterprise"),
                              (DIALECT_SEATS, "dialect")]:
            for seat in group:
                await seats.enter_async_context(hotline.agent(seat, skills=skills))
        finished = hotline.expect_finished_calls(sum(calls for _key, calls, _line, _seats in groups.values()))
        async with AsyncExitStack() as running:
            processes = [await running.enter_async_context(run_sipp(citizens(hotline, number, key, calls, 12_000)))
                         for number, (key, calls, _line, _seats) in groups.items()]
            for process in processes:
                assert await process.finished() == 0, process.errors
        ended = await wait(finished, 30, "not every call reached the database")
    calls = [await hotline.stored_call(uniqueid) for uniqueid in ended]
    assert Counter(call.outcome for call in calls) == {"answered": 28}
    for call in calls:
        _key, _calls, line, seats_of_line = groups[call.caller_number or ""]
        assert (call.line, call.queue) == (line, line), call.caller_number
        assert call.seat in seats_of_line, f"a caller on {line} was answered at seat {call.seat}"
    # leastrecent, with more free agents than callers: no agent takes a second call while another waits idle.
    agents = Counter(call.agent for call in calls)
    assert max(agents.values()) == 1, agents


async def test_a_line_caller_reaches_a_fallback_agent_only_once_the_wait_has_relaxed(hotline: Hotline) -> None:
    async with hotline.agent("8031", skills="enterprise"), hotline.agent("8001", skills="general"):
        await hotline.app[keys.AGENT_SERVICE].pause(agent_for("8031"), "break")  # the line's own agent is away
        joined = hotline.expect_ami_event(lambda name, f: name == "QueueCallerJoin"
                                          and f.get("Queue") == "hotline-enterprise")
        connected = hotline.expect_ami_event(lambda name, f: name == "AgentConnect")
        finished = hotline.expect_finished_call()
        caller = asyncio.ensure_future(call_with_key(hotline, "13930000001", "1", 14_000))
        first_join = await wait(joined, 15, "the caller did not join the enterprise line")
        answer = await wait(connected, 20, "no agent answered")
        await caller
        row = await wait(finished, 15, "the call did not reach the database")
    call = await hotline.stored_call(row["uniqueid"])
    assert (answer["MemberName"], answer["Queue"], call.line) == ("1001", "hotline-enterprise", "hotline-enterprise")
    assert call.wait_seconds is not None and call.wait_seconds >= RELAX_AFTER, \
        "the general agent, free all along, was offered the enterprise caller only after the relax step"
    assert first_join["Uniqueid"] == call.uniqueid


async def take_order(hotline: Hotline, agent_id: str, pin: str, uniqueid: str) -> int:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(hotline.web_url, cookie_jar=jar) as session:
        await log_in(session, "/api/session", {"agent_id": agent_id, "pin": pin})
        async with session.post("/api/workorders", json={"content": "路灯不亮", "call": uniqueid}) as response:
            assert response.status == 201, await response.text()
            return int((await response.json())["id"])


async def one_call(hotline: Hotline, number: str, talk_ms: int = 7_000) -> Call:
    finished = hotline.expect_finished_call()
    await call_with_key(hotline, number, "", talk_ms)
    return await hotline.stored_call((await wait(finished, 15, f"the call from {number} was not stored"))["uniqueid"])


async def order_taken_by_whoever_answers(hotline: Hotline, number: str) -> Call:
    """The citizen calls; the agent who answers takes an order on the desk (POST /api/workorders)."""
    first = await one_call(hotline, number)
    assert first.outcome == "answered" and first.agent is not None
    pin = await hotline.app[keys.AGENT_STORE].reset_pin(first.agent)
    await take_order(hotline, first.agent, pin, first.uniqueid)
    return first


async def test_a_repeat_caller_reaches_the_agent_who_took_their_open_order(hotline: Hotline) -> None:
    number = "13940000001"
    async with AsyncExitStack() as seats:
        for seat in ["8002", "8003", "8004", "8005"]:
            await seats.enter_async_context(hotline.agent(seat))
        first = await order_taken_by_whoever_answers(hotline, number)
        # leastrecent alone would now offer the call to one of the three agents who have not answered yet
        second = await one_call(hotline, number)
    assert (second.outcome, second.agent, second.queue, second.line) == \
        ("answered", first.agent, "hotline-direct", "hotline-general")


async def test_a_repeat_caller_whose_agent_is_away_goes_to_the_front_of_the_line(hotline: Hotline) -> None:
    number, other = "13940000002", "13940000003"
    async with hotline.agent("8006"):
        first = await order_taken_by_whoever_answers(hotline, number)
        await hotline.app[keys.AGENT_SERVICE].pause(agent_for("8006"), "break")
        other_joined = hotline.expect_ami_event(lambda name, f: name == "QueueCallerJoin"
                                                and f.get("CallerIDNum") == other)
        waiting = asyncio.ensure_future(call_with_key(hotline, other, "", 14_000))
        await wait(other_joined, 15, "the other caller did not join the queue")
        repeat_joined = hotline.expect_ami_event(lambda name, f: name == "QueueCallerJoin"
                                                 and f.get("CallerIDNum") == number)
        repeat = asyncio.ensure_future(call_with_key(hotline, number, "", 8_000))
        joined = await wait(repeat_joined, 15, "the repeat caller did not join the queue")
        await asyncio.gather(waiting, repeat)
    assert first.agent == agent_for("8006")
    assert (joined["Queue"], joined["Position"]) == ("hotline-general", "1"), "ahead of the caller already waiting"
