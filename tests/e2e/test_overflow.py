"""Overflow decided by our code: a long expected wait offers a callback that keeps the caller's place."""

from __future__ import annotations

import pytest

from ivr import keys
from ivr.callbacks.store import CallbackStore
from ivr.db.models import as_utc
from ivr.democall import Sipp
from tests.helpers import CARRIER_IP, Hotline, run_sipp, wait

pytestmark = pytest.mark.asterisk
NUMBER = "13700137111"


async def test_a_caller_keeps_their_place_and_is_called_back(hotline: Hotline) -> None:
    service = hotline.app[keys.AGENT_SERVICE]
    async with hotline.agent("8037"):
        await service.pause("1037", "meeting")  # nobody takes calls: the expected wait is unbounded
        finished = hotline.expect_finished_call()
        # Greeting, 6 s in the queue, then the offer: the caller presses 1 and the hotline hangs up.
        citizen = await hotline.citizen_call("12345", 13_000, caller=NUMBER, scenario="citizen_rates.xml", digit="1")
        assert citizen.process.returncode == 0, citizen.errors
        row = await wait(finished, 15, "the call did not reach the database")
    call = await hotline.stored_call(row["uniqueid"])
    assert call.outcome == "callback_requested" and call.answered_at is None
    store = CallbackStore(hotline.app[keys.ENGINE])
    [callback] = await store.for_number(NUMBER)
    assert (callback.reason, callback.status, callback.origin_uniqueid) == ("requested", "pending", call.uniqueid)
    assert call.enqueued_at is not None and as_utc(callback.created_at) == as_utc(call.enqueued_at), \
        "the callback keeps the place the caller had in the queue"

    phone = Sipp(scenario="citizen_answers_callback.xml", target="", local_ip=CARRIER_IP, local_port=15070,
                 pause_ms=16_000, timeout_s=60)
    async with run_sipp(phone) as citizen_phone, hotline.agent("8037"):
        connected = hotline.expect_ami_event(lambda name, f: name == "AgentConnect" and f.get("MemberName") == "1037")
        await service.resume("1037")
        await wait(connected, 30, "the callback did not reach agent 1037", citizen_phone)
        assert await citizen_phone.finished() == 0, citizen_phone.errors
    [callback] = await store.for_number(NUMBER)
    assert (callback.status, callback.attempts, callback.agent) == ("answered", 1, "1037")
