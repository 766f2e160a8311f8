"""Emergency hand-off: from the desk, the agent sends the caller on to 110 through the trunk, or stays on in a
three-way call."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
import pytest

from ivr import keys
from ivr.democall import Sipp
from tests.helpers import CARRIER_IP, Hotline, log_in, run_sipp, wait

pytestmark = pytest.mark.asterisk
SERVICE_PORT = 15070  # the carrier contact in the test settings: the "110" SIPp listens there


async def test_an_agent_hands_the_caller_to_110_and_it_is_logged_on_the_call(hotline: Hotline) -> None:
    pin = await hotline.ensure_agent("1036", "赵六")
    service = Sipp(scenario="emergency_service_answers.xml", target="", local_ip=CARRIER_IP,
                   local_port=SERVICE_PORT, timeout_s=90)
    jar = aiohttp.CookieJar(unsafe=True)
    async with run_sipp(service) as police, hotline.agent("8036"), aiohttp.ClientSession(cookie_jar=jar) as desk:
        await log_in(desk, hotline.web_url + "/api/session", {"agent_id": "1036", "pin": pin})
        nothing = await desk.post(hotline.web_url + "/api/call/handoff", json={"number": "110"})
        assert nothing.status == 409 and (await nothing.json())["error_id"] == "no-call"

        connected = hotline.expect_ami_event(lambda name, f: name == "AgentConnect" and f.get("MemberName") == "1036")
        finished = hotline.expect_finished_call()
        citizen = asyncio.create_task(hotline.citizen_call("12345", hang_up_after_ms=20_000, caller="13600136000"))
        await wait(connected, 20, "the call did not reach agent 1036")
        wrong = await desk.post(hotline.web_url + "/api/call/handoff", json={"number": "12306"})
        assert wrong.status == 400 and (await wrong.json())["error_id"] == "not-an-emergency-number"
        handed = await desk.post(hotline.web_url + "/api/call/handoff", json={"number": "110"})
        assert handed.status == 200, await handed.text()

        assert (await citizen).process.returncode == 0
        assert await wait(police.finished(), 20, "110 never got the caller", police) == 0, police.errors
        row = await wait(finished, 15, "the call did not reach the database")
    call = await hotline.stored_call(row["uniqueid"])
    assert (call.handoff, call.handoff_by, call.agent, call.outcome) == ("110", "1036", "1036", "answered")
    assert call.handoff_at is not None and call.answered_at is not None and call.handoff_at > call.answered_at


async def test_a_three_way_hand_off_keeps_the_agent_on_until_the_caller_leaves(hotline: Hotline) -> None:
    pin = await hotline.ensure_agent("1035", "钱七") or await hotline.app[keys.AGENT_STORE].reset_pin("1035")
    service = Sipp(scenario="emergency_service_answers.xml", target="", local_ip=CARRIER_IP,
                   local_port=SERVICE_PORT, timeout_s=90)
    jar = aiohttp.CookieJar(unsafe=True)
    async with run_sipp(service) as fire, hotline.agent("8035"), aiohttp.ClientSession(cookie_jar=jar) as desk:
        await log_in(desk, hotline.web_url + "/api/session", {"agent_id": "1035", "pin": pin})
        connected = hotline.expect_ami_event(lambda name, f: name == "AgentConnect" and f.get("MemberName") == "1035")
        finished = hotline.expect_finished_call()
        citizen = asyncio.create_task(hotline.citizen_call("12345", hang_up_after_ms=15_000, caller="13600136001"))
        answered = await wait(connected, 20, "the call did not reach agent 1035")
        everyone_in = conference_joins(hotline, answered["Uniqueid"], 3)
        bad = await desk.post(hotline.web_url + "/api/call/handoff", json={"number": "119", "mode": "hold"})
        assert bad.status == 400 and (await bad.json())["error_id"] == "bad-handoff-mode"
        handed = await desk.post(hotline.web_url + "/api/call/handoff", json={"number": "119", "mode": "conference"})
        assert handed.status == 200, await handed.text()
        joined = await wait(everyone_in, 20, "caller, agent and 119 did not all join the conference", fire)

        assert (await citizen).process.returncode == 0
        assert await wait(fire.finished(), 20, "119 was not let go when the caller left", fire) == 0, fire.errors
        row = await wait(finished, 15, "the call did not reach the database")
    channels = sorted(event["Channel"].split("/")[1].split("-")[0] for event in joined)
    assert channels == ["8035", "carrier", "carrier"], "the agent's seat, the caller and 119 through the trunk"
    call = await hotline.stored_call(row["uniqueid"])
    assert (call.handoff, call.handoff_mode, call.handoff_by, call.outcome) == ("119", "conference", "1035", "answered")


def conference_joins(hotline: Hotline, room: str, count: int) -> asyncio.Future[list[dict[str, str]]]:
    """A future for the first `count` ConfbridgeJoin events of the conference named `room`."""
    future: asyncio.Future[list[dict[str, str]]] = asyncio.get_running_loop().create_future()
    joined: list[dict[str, str]] = []

    def sink(name: str, fields: Mapping[str, str]) -> None:
        if name == "ConfbridgeJoin" and fields.get("Conference") == room and not future.done():
            joined.append(dict(fields))
            if len(joined) == count:
                future.set_result(joined)

    client = hotline.app[keys.AMI]
    client.subscribe(sink)
    future.add_done_callback(lambda _: client.sinks.remove(sink))
    return future
