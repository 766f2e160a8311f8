"""Emergency hand-off: from the desk, the agent sends the caller on to 110 through the trunk."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from ivr.democall import Sipp
from tests.helpers import CARRIER_IP, Hotline, run_sipp, wait

pytestmark = pytest.mark.asterisk
SERVICE_PORT = 15070  # the carrier contact in the test settings: the "110" SIPp listens there


async def test_an_agent_hands_the_caller_to_110_and_it_is_logged_on_the_call(hotline: Hotline) -> None:
    pin = await hotline.ensure_agent("1036", "赵六")
    service = Sipp(scenario="emergency_service_answers.xml", target="", local_ip=CARRIER_IP,
                   local_port=SERVICE_PORT, timeout_s=90)
    jar = aiohttp.CookieJar(unsafe=True)
    async with run_sipp(service) as police, hotline.agent("8036"), aiohttp.ClientSession(cookie_jar=jar) as desk:
        assert (await desk.post(hotline.web_url + "/api/session", json={"agent_id": "1036", "pin": pin})).ok
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
