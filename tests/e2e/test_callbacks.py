"""Missed calls (漏接回拨): each becomes one callback a day, dialled through the carrier when an agent is free."""

from __future__ import annotations

import asyncio

import pytest

from ivr import keys
from ivr.callbacks.store import CallbackStore
from ivr.democall import Sipp
from tests.helpers import CARRIER_IP, Hotline, run_sipp, wait

pytestmark = [pytest.mark.asterisk, pytest.mark.dials_callbacks]
CITIZEN_PHONE_PORT = 15070  # the carrier contact in the test settings
NUMBER = "13500135000"


async def test_a_missed_call_is_called_back_once_an_agent_is_free(hotline: Hotline) -> None:
    store = CallbackStore(hotline.app[keys.ENGINE])
    recorded: asyncio.Queue[str] = asyncio.Queue()
    hotline.app[keys.CALLBACKS].recorded_listeners.append(recorded.put_nowait)
    for _ in range(2):  # no agent: the citizen gives up twice
        call = await hotline.unanswered_call("12345", hang_up_after_ms=6_000, caller=NUMBER)
        assert call.outcome == "abandoned"
        assert await wait(recorded.get(), 5, "the missed call was not turned into a callback") == NUMBER
    callbacks = await store.for_number(NUMBER)
    assert len(callbacks) == 1, "one callback per number per day"
    assert (callbacks[0].status, callbacks[0].attempts) == ("pending", 0)

    phone = Sipp(scenario="citizen_answers_callback.xml", target="", local_ip=CARRIER_IP,
                 local_port=CITIZEN_PHONE_PORT, pause_ms=14_000, timeout_s=60)
    async with run_sipp(phone) as citizen:
        connected = hotline.expect_ami_event(lambda name, f: name == "AgentConnect" and f.get("MemberName") == "1035")
        async with hotline.agent("8035"):
            event = await wait(connected, 30, "the callback did not reach agent 1035", citizen)
            assert await citizen.finished() == 0, citizen.errors
    [callback] = await store.for_number(NUMBER)
    assert (callback.status, callback.attempts, callback.last_result) == ("answered", 1, "answered")
    assert callback.channel_uniqueid == event["Uniqueid"] and callback.agent == "1035"
