"""The wallboard's snapshot and pushes: built from a QueueState fed with AMI events and the tracker's live calls
(seats by state, waiting callers and the longest wait, no phone numbers); a burst of events gives one push and
the last change of a burst is never lost; a call's end written to the database re-reads today's figures; a
database away keeps the last figures, marked."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from ivr.ami.queue_state import QueueState
from ivr.calls.tracker import CallRecord
from ivr.settings import ReportSettings, Settings
from ivr.wallboard.live import Coalescer, WallboardHub
from ivr.wallboard.snapshot import DayFigures

SETTINGS = dataclasses.replace(Settings(), reports=ReportSettings(wallboard_refresh_seconds=3600, hot_terms=3))
SEATS = SETTINGS.direct_queue
LINE = "hotline-general"
NOW = datetime.now(UTC)
A, B, C, D, E, F, G = (f"1699999999.{n}" for n in range(1001, 1008))  # Asterisk's unique ids


def seat(number: str, status: str, paused: str = "0", reason: str = "") -> dict[str, str]:
    return {"Interface": f"PJSIP/{number}", "MemberName": "1" + number[1:], "Status": status, "Paused": paused,
            "PausedReason": reason}


def fed_state() -> QueueState:
    """Six seats logged in (also members of a line queue), three callers in the line's queue."""
    state = QueueState()
    state.replace([{"Event": "QueueParams", "Queue": SEATS}, {"Event": "QueueParams", "Queue": LINE}])
    seats = [seat("8001", "1"), seat("8002", "2"), seat("8003", "6"), seat("8004", "1", "1", "break"),
             seat("8005", "2", "1", "meeting"), seat("8006", "5"), seat("8007", "1", "1", "training")]
    for fields in seats:
        state.handle("QueueMemberAdded", {**fields, "Queue": LINE, "Paused": "0", "PausedReason": ""})
        state.handle("QueueMemberAdded", {**fields, "Queue": SEATS})
    state.handle("QueueMemberRemoved", {"Queue": SEATS, "Interface": "PJSIP/8007"})  # logged out
    for uniqueid, caller in ((A, "13800138001"), (B, "13800138002"), (C, "13800138003")):
        state.handle("QueueCallerJoin", {"Queue": LINE, "Uniqueid": uniqueid, "CallerIDNum": caller})
    return state


def live_calls() -> dict[str, CallRecord]:
    """What the tracker follows: two of the queued callers, one between two stretches in the queue (hearing
    their place), and calls whose wait is over."""
    def call(uniqueid: str, waited: float, **facts: bool) -> CallRecord:
        return CallRecord(uniqueid, caller_number="1390000" + uniqueid[-4:],
                          enqueued_at=NOW - timedelta(seconds=waited), facts={"joined_queue": True, **facts})

    return {A: call(A, 40), B: call(B, 95), D: call(D, 130), E: call(E, 300, answered=True),
            F: call(F, 400, callback_requested=True), G: call(G, 500, voicemail=True)}


def since(call: CallRecord) -> str:
    assert call.enqueued_at is not None
    return call.enqueued_at.isoformat()


class Figures:
    """A stand-in for the database: today's figures as the test sets them, or a failure."""

    def __init__(self) -> None:
        self.offered = 1
        self.reads = 0
        self.failure: Exception | None = None

    async def __call__(self, now: datetime) -> DayFigures:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        calls = {"offered": self.offered, "answered": 1, "answer_rate": 1 / self.offered, "abandoned": 0,
                 "abandoned_calls": [{"caller": "13800138009"}]}
        terms = [{"term": "物业", "count": 9, "previous": 2, "surge": True},
                 {"term": "13800138009", "count": 8, "previous": 0, "surge": True},
                 {"term": "停水", "count": 5, "previous": 5, "surge": False},
                 {"term": "噪音", "count": 4, "previous": 3, "surge": False},
                 {"term": "供暖", "count": 3, "previous": 3, "surge": False}]
        return DayFigures(read_at=now, calls=calls, orders={"received": 4, "by_type": {"complaint": 3, "help": 1},
                          "overdue": 2}, hot_terms=terms, needed_now=7, slot="10:30")


def make_hub(state: QueueState, figures: Figures, link: list[bool] | None = None,
             calls: dict[str, CallRecord] | None = None, coalesce: float = 0.2) -> WallboardHub:
    link = link if link is not None else [True]
    return WallboardHub(SETTINGS, state, lambda: link[0], calls if calls is not None else {}, figures,
                        coalesce=coalesce)


@contextlib.asynccontextmanager
async def running(hub: WallboardHub) -> AsyncIterator[None]:
    task = asyncio.create_task(hub.run())
    try:
        yield
    finally:
        hub.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def next_snapshot(stream: AsyncGenerator[bytes, None], timeout: float = 2.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        data = await anext(stream)
    event, payload = data.decode().rstrip("\n").split("\n")
    assert event == "event: snapshot"
    return dict(json.loads(payload.removeprefix("data: ")))


async def test_the_seats_by_state_come_from_the_seat_queue_each_seat_once() -> None:
    hub = make_hub(fed_state(), Figures())
    assert hub.snapshot()["agents"] == {
        "logged_in": 6, "idle": 1, "talking": 2, "ringing": 1, "paused": 1, "offline": 1,
        "paused_by_reason": {"break": 1},
    }, "8005 is paused but on a call: talking; 8007 logged out; the line queue's memberships are not counted"


async def test_waiting_callers_and_the_longest_wait_without_any_phone_number() -> None:
    state, calls = fed_state(), live_calls()
    hub = make_hub(state, Figures(), calls=calls)
    await hub.refresh()
    shown = hub.snapshot()
    # A, B and C in the queue; D between two stretches; E answered, F and G done waiting.
    assert shown["queue"]["waiting"] == 4
    assert shown["queue"]["oldest_since"] == since(calls[D])
    text = json.dumps(shown, ensure_ascii=False)
    assert "13800138" not in text and "13900001" not in text and "1699999999" not in text, "no number, no call id"
    assert [term["term"] for term in shown["hot_terms"]] == ["物业", "停水", "噪音"], \
        "a number-like term is left out; reports.hot_terms (3) at most"
    assert shown["today"]["offered"] == 1 and "abandoned_calls" not in shown["today"]

    state.handle("QueueCallerLeave", {"Queue": LINE, "Uniqueid": C})
    del calls[D]  # hung up while hearing their place
    assert hub.snapshot()["queue"] == {"waiting": 2, "oldest_since": since(calls[B])}


async def test_a_caller_the_tracker_does_not_know_waits_from_when_the_wallboard_first_saw_them() -> None:
    state = QueueState()
    state.replace([{"Event": "QueueEntry", "Queue": LINE, "Uniqueid": "9.1"}])  # queued before our start
    hub = make_hub(state, Figures())
    first = hub.snapshot()["queue"]["oldest_since"]
    assert first is not None and hub.snapshot()["queue"]["oldest_since"] == first, "kept, not reset at each look"


async def test_the_snapshot_is_not_live_while_the_ami_link_is_down_or_the_queues_not_yet_read() -> None:
    link = [True]
    state = QueueState()
    hub = make_hub(state, Figures(), link=link)
    assert hub.snapshot()["live"] is False, "the queue state was never read"
    state.replace([])
    assert hub.snapshot()["live"] is True
    link[0] = False
    assert hub.snapshot()["live"] is False
    link[0] = True
    hub.handle("Shutdown", {"Shutdown": "Cleanly", "Restart": "True"})
    assert hub.snapshot()["live"] is False, "Asterisk said it is going: not live, before the link drops"
    await hub.queues_reread()
    assert hub.snapshot()["live"] is True, "back, and the queues read again"


async def test_a_burst_gives_one_push_and_its_last_change_is_never_lost() -> None:
    loop = asyncio.get_running_loop()
    value = {"now": 0}
    pushed: list[tuple[int, float]] = []
    arrived = asyncio.Event()

    def push() -> None:
        pushed.append((value["now"], loop.time()))
        arrived.set()

    coalescer = Coalescer(push, 0.2)
    poked = loop.time()
    for step in range(1, 51):
        value["now"] = step
        coalescer.poke()
    await arrived.wait()
    assert [v for v, _ in pushed] == [50], "one push for the burst, with its last change"
    assert pushed[0][1] - poked < 0.1, "the first change of a quiet spell goes out at once"

    arrived.clear()
    for step in range(51, 61):  # more changes within the interval after that push
        value["now"] = step
        coalescer.poke()
    await arrived.wait()
    assert [v for v, _ in pushed] == [50, 60], "the end of the burst is pushed"
    assert 0.19 <= pushed[1][1] - pushed[0][1] < 0.3, "at most one push per interval, and never later"


async def test_events_reach_an_open_stream_coalesced() -> None:
    state = QueueState()
    state.replace([])
    hub = make_hub(state, Figures())
    stream = hub.updates()
    async with running(hub), contextlib.aclosing(stream):
        assert (await next_snapshot(stream))["queue"]["waiting"] == 0
        await next_snapshot(stream)  # the figures read for the new screen
        pushes = hub.pushes
        for n in range(20):
            state.handle("QueueCallerJoin", {"Queue": LINE, "Uniqueid": f"2.{n}"})
            hub.handle("QueueCallerJoin", {"Queue": LINE, "Uniqueid": f"2.{n}"})
        assert (await next_snapshot(stream))["queue"]["waiting"] == 20
        assert hub.pushes == pushes + 1


async def test_a_calls_end_in_the_database_rereads_todays_figures() -> None:
    state, figures = QueueState(), Figures()
    state.replace([])
    hub = make_hub(state, figures)
    stream = hub.updates()
    async with running(hub), contextlib.aclosing(stream):
        await next_snapshot(stream)
        assert (await next_snapshot(stream))["today"]["offered"] == 1
        reads = figures.reads
        hub.call_written({"uniqueid": "3.1", "answered_at": NOW})  # not its end: nothing to read again
        hub.handle("QueueMemberStatus", {})
        await next_snapshot(stream)
        assert figures.reads == reads

        figures.offered = 2
        hub.call_written({"uniqueid": "3.1", "ended_at": NOW})
        shown = await next_snapshot(stream)
        assert shown["today"]["offered"] == 2 and shown["figures"]["error"] is None
        assert figures.reads == reads + 1


async def test_with_the_database_away_the_last_figures_stay_marked_with_their_time() -> None:
    state, figures = QueueState(), Figures()
    hub = make_hub(state, figures)
    await hub.refresh()
    read_at = hub.snapshot()["figures"]["as_of"]
    figures.offered, figures.failure = 5, OperationalError("SELECT", {}, Exception("connection refused"))
    await hub.refresh()
    shown = hub.snapshot()
    assert shown["today"]["offered"] == 1
    assert shown["figures"] == {"as_of": read_at, "error": "database unavailable"}


async def test_the_link_going_down_is_pushed_and_close_ends_the_streams() -> None:
    link = [True]
    state = QueueState()
    state.replace([])
    hub = make_hub(state, Figures(), link=link)
    stream = hub.updates()
    async with running(hub):
        assert (await next_snapshot(stream))["live"] is True
        await next_snapshot(stream)
        link[0] = False  # nothing but the once-a-second look notices
        assert (await next_snapshot(stream, timeout=3))["live"] is False
        hub.close()
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
