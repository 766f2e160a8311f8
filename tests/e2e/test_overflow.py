"""Overflow decided by our code: a long expected wait offers a callback that keeps the caller's place."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.callbacks.store import CallbackStore
from ivr.db.models import as_utc
from ivr.democall import Sipp
from ivr.secrets import Secrets
from ivr.settings import Settings
from tests.helpers import CARRIER_IP, Hotline, run_sipp, start_hotline, wait

pytestmark = [pytest.mark.asterisk, pytest.mark.dials_callbacks]
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


async def test_callbacks_keep_the_callers_order_one_per_free_agent_and_survive_a_restart(
    asterisk: AsteriskProcess, settings: Settings, secrets: Secrets
) -> None:
    first, second = "13700137201", "13700137202"
    async with start_hotline(settings, secrets, asterisk) as before:
        async with before.agent("8038"):
            await before.app[keys.AGENT_SERVICE].pause("1038", "meeting")
            joined = before.expect_ami_event(lambda name, f: name == "QueueCallerJoin"
                                             and f.get("CallerIDNum") == first)
            earlier = asyncio.ensure_future(keeps_place(before, first))
            await wait(joined, 15, "the first caller did not queue")
            await asyncio.gather(earlier, keeps_place(before, second))
        await before.stop()  # the callbacks are in the database only now

    async with start_hotline(settings, secrets, asterisk) as after:
        store = CallbackStore(after.app[keys.ENGINE])
        assert [(await store.for_number(n))[0].status for n in (first, second)] == ["pending", "pending"]
        agent_events, both_done = agent_calls(after, "1038", completed=2)
        phone = Sipp(scenario="citizen_answers_callback.xml", target="", local_ip=CARRIER_IP, local_port=15070,
                     pause_ms=8_000, timeout_s=90, calls=2)
        async with run_sipp(phone) as citizen_phones, after.softphone("8038"):
            await after.app[keys.AGENT_SERVICE].resume("1038")  # one agent free: one callback at a time
            assert await wait(citizen_phones.finished(), 80, "not both callbacks were answered", citizen_phones) == 0
            await wait(both_done, 20, f"the second callback did not complete: {agent_events}")
        callbacks = {n: (await store.for_number(n))[0] for n in (first, second)}
    assert [kind for kind, _ in agent_events] == ["AgentConnect", "AgentComplete", "AgentConnect", "AgentComplete"], \
        "the agent was never offered a second callback while on the first"
    connected = [uniqueid for kind, uniqueid in agent_events if kind == "AgentConnect"]
    assert connected == [callbacks[first].channel_uniqueid, callbacks[second].channel_uniqueid], \
        "called back in the order they first queued"
    assert all((c.status, c.attempts, c.agent) == ("answered", 1, "1038") for c in callbacks.values())


async def keeps_place(hotline: Hotline, number: str) -> None:
    """Greeting, 6 s in the queue, then the offer: the caller presses 1 and the hotline hangs up."""
    citizen = await hotline.citizen_call("12345", 13_000, caller=number, scenario="citizen_rates.xml", digit="1")
    assert citizen.process.returncode == 0, citizen.errors


def agent_calls(hotline: Hotline, agent_id: str, completed: int) -> tuple[list[tuple[str, str]], asyncio.Future[None]]:
    """(event, caller's unique id) of every AgentConnect and AgentComplete of the agent, as they come, and a
    future done at the `completed`-th AgentComplete."""
    seen: list[tuple[str, str]] = []
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def sink(name: str, fields: Mapping[str, str]) -> None:
        if name in ("AgentConnect", "AgentComplete") and fields.get("MemberName") == agent_id:
            seen.append((name, fields.get("Uniqueid", "")))
            if sum(kind == "AgentComplete" for kind, _ in seen) == completed and not done.done():
                done.set_result(None)

    hotline.app[keys.AMI].subscribe(sink)
    return seen, done
