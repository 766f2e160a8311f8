"""hotline-waiting with a spec'd fake AgiCall and the real tracker, queue state and settings: between two
stretches of waiting, who may answer widens with the wait, a repeat caller whose agent did not answer goes
to the front of their line, and the place announced counts priority callers first."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, cast
from unittest import mock

from ivr.ami.queue_state import QueueState
from ivr.callbacks.store import CallbackStore
from ivr.calls.store import CallStore
from ivr.calls.tracker import CallTracker
from ivr.fastagi import AgiCall
from ivr.intake.context import CallContextFactory, Services
from ivr.intake.waiting import hotline_waiting
from ivr.settings import Settings
from tests.unit.announced import announce

SOUNDS = PurePosixPath("/snd")


class FakeStore:
    async def recent_handle_seconds(self, wrapup_seconds: float, calls: int = 50) -> float | None:
        return 120.0


class Waiting:
    def __init__(self) -> None:
        self.tracker = CallTracker("12345", "citizens", publish=lambda row: None)
        self.state = QueueState()
        self.services = Services(Settings(), self.tracker, cast(CallStore, FakeStore()), SOUNDS,
                                 queue_state=self.state)

    def caller(self, uniqueid: str, line: str, waited_seconds: float, priority: int = 0) -> None:
        announce(self.tracker, uniqueid)
        self.tracker.routed(uniqueid, line, priority)
        self.tracker.live[uniqueid].enqueued_at = datetime.now(UTC) - timedelta(seconds=waited_seconds)

    async def run(self, uniqueid: str) -> dict[str, str]:
        call: Any = mock.create_autospec(AgiCall, instance=True)
        call.uniqueid = uniqueid
        call.stream_file.return_value = ""
        await hotline_waiting(call, CallContextFactory(self.services)(call))
        variables = {c.args[0]: c.args[1] for c in call.set_variable.await_args_list}
        for together in call.set_variables.await_args_list:  # one MSet
            variables |= dict(together.args[0])
        return variables


async def test_fallback_agents_may_answer_once_the_caller_has_waited_a_minute() -> None:
    waiting = Waiting()
    waiting.caller("1.1", "hotline-enterprise", 30)
    waiting.caller("1.2", "hotline-enterprise", 61)
    early, late = await waiting.run("1.1"), await waiting.run("1.2")
    assert (early["HOTLINE_QUEUE"], early["QUEUE_MAX_PENALTY"]) == ("hotline-enterprise", "9")
    assert (late["HOTLINE_QUEUE"], late["QUEUE_MAX_PENALTY"]) == ("hotline-enterprise", "10")
    assert late["QUEUE_MIN_PENALTY"] == "0" and late["HOTLINE_STRETCH"] == "30"


async def test_a_repeat_caller_back_from_the_direct_ring_waits_at_the_front_of_their_line() -> None:
    waiting = Waiting()
    waiting.caller("2.1", "hotline-general", 40)
    waiting.caller("2.2", "hotline-general", 20)
    waiting.caller("2.3", "hotline-general", 17, priority=10)  # rang their agent for 17 s, unanswered
    entry = await waiting.run("2.3")
    assert (entry["HOTLINE_QUEUE"], entry["QUEUE_PRIO"], entry["QUEUE_MIN_PENALTY"]) == ("hotline-general", "10", "0")
    assert entry["HOTLINE_POSITION"] == "1", "ahead of the two who came earlier"
    assert (await waiting.run("2.2"))["HOTLINE_POSITION"] == "3"


async def test_callers_on_other_lines_do_not_count_towards_the_place() -> None:
    waiting = Waiting()
    waiting.caller("3.1", "hotline-dialect", 50)
    waiting.caller("3.2", "hotline-general", 10)
    assert (await waiting.run("3.2"))["HOTLINE_POSITION"] == "1"


async def test_a_callback_is_offered_only_to_a_number_that_would_be_dialled() -> None:
    """Toll fraud (issue 15): a caller from abroad, a premium line or 110 is not told "we will call you back"."""
    offered = {}
    for number in ("13800138000", "0090123456789", "+88213000000", "110"):
        waiting = Waiting()
        # Nobody presses 1: the callback store is never used.
        services = dataclasses.replace(waiting.services, callbacks=cast(CallbackStore, object()))
        waiting.caller("5.1", "hotline-general", 300)
        call: Any = mock.create_autospec(AgiCall, instance=True)
        call.uniqueid, call.caller_number = "5.1", number
        call.stream_file.return_value = call.get_data.return_value = ""
        await hotline_waiting(call, CallContextFactory(services)(call))
        offered[number] = call.get_data.await_count == 1
    assert offered == {"13800138000": True, "0090123456789": False, "+88213000000": False, "110": False}
