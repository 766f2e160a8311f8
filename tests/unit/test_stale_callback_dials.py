"""A callback whose dial's result never came (the server dialling it stopped or died, or its AMI connection
dropped) is settled by whichever server looks next, once (issue 15, hole 8): dialled again, given up after the
last attempt, or answered if its channel reached an agent — never left 'dialling' for good."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.ami import events
from ivr.ami.client import AmiClient
from ivr.callbacks import dialer as dialer_module
from ivr.callbacks.dialer import STALE_MARGIN, CallbackDialer, Waiting, dial_id
from ivr.callbacks.store import CallbackStore
from ivr.db.models import Call, Callback
from ivr.settings import CallbackSettings, Settings, SipSettings
from routing.callbacks import RESULT_LOST, stale_dial_result

NUMBER = "13800138000"
CLAIMED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SETTINGS = Settings(sip=SipSettings(carrier_contact="sip:203.0.113.10:5060"),
                    callbacks=CallbackSettings(max_attempts=3, retry_minutes=10, ring_seconds=30))
RING = timedelta(seconds=SETTINGS.callbacks.ring_seconds)
RETRY = timedelta(minutes=SETTINGS.callbacks.retry_minutes)
OVERDUE = CLAIMED + RING + STALE_MARGIN + timedelta(seconds=1)  # no response can come any more


class FakeAmi:
    """Takes the Originate actions; nothing answers them (the server dies before the response)."""

    def __init__(self) -> None:
        self.actions: list[Mapping[str, str]] = []

    async def action(self, action: Mapping[str, str]) -> None:
        self.actions.append(action)


def dialer(engine: AsyncEngine, ami: FakeAmi | None = None) -> CallbackDialer:
    return CallbackDialer(SETTINGS, cast(AmiClient, ami or FakeAmi()), CallbackStore(engine))


async def left_dialling(engine: AsyncEngine, attempts: int = 1, number: str = NUMBER, at: datetime = CLAIMED) -> int:
    """A callback a dead server claimed at `at` for its attempt `attempts`."""
    callback_id = await added(engine, number, "dialling", attempts, at)
    async with engine.begin() as connection:
        await connection.execute(update(Callback).where(Callback.id == callback_id)
                                 .values(channel_uniqueid=dial_id(callback_id, attempts)))
    return callback_id


async def added(engine: AsyncEngine, number: str, status: str, attempts: int, at: datetime = CLAIMED) -> int:
    async with engine.begin() as connection:
        result = await connection.execute(insert(Callback).values(
            number=number, reason="missed", day="2026-11-30", origin_uniqueid="1.1", status=status,
            attempts=attempts, next_attempt_at=at, created_at=at, updated_at=at))
    return int(result.inserted_primary_key[0])


async def callback(engine: AsyncEngine, callback_id: int) -> Callback:
    found = await CallbackStore(engine).get(callback_id)
    assert found is not None
    return found


@pytest.mark.parametrize(("agent", "outcome", "result"), [
    ("1035", None, "answered"), (None, "answered", "answered"), (None, "in_progress", None),
    (None, "abandoned", RESULT_LOST), (None, "timed_out", RESULT_LOST), (None, None, RESULT_LOST),
])
def test_what_a_dial_whose_result_never_came_did(agent: str | None, outcome: str | None, result: str | None) -> None:
    assert stale_dial_result(agent, outcome) == result


async def test_a_dial_left_by_a_dead_server_is_dialled_again_with_its_attempt_counted(engine: AsyncEngine) -> None:
    first = await left_dialling(engine, attempts=1)
    last = await left_dialling(engine, attempts=3, number="13900139000")
    restarted = dialer(engine)

    assert await restarted.settle_stale_dials(OVERDUE - timedelta(seconds=2)) == 0, "its response could still come"
    assert (await callback(engine, first)).status == "dialling"

    assert await restarted.settle_stale_dials(OVERDUE) == 2
    again = await callback(engine, first)
    assert (again.status, again.attempts, again.last_result) == ("pending", 1, RESULT_LOST)
    assert [c.id for c in await CallbackStore(engine).due(OVERDUE + RETRY, 10)] == [first]
    assert await CallbackStore(engine).due(OVERDUE + RETRY - timedelta(seconds=1), 10) == [], "after retry_minutes"
    given_up = await callback(engine, last)
    assert (given_up.status, given_up.attempts, given_up.last_result) == ("given_up", 3, RESULT_LOST)


async def test_the_next_attempt_gets_a_channel_of_its_own(engine: AsyncEngine) -> None:
    callback_id = await left_dialling(engine, attempts=1)
    ami = FakeAmi()
    restarted = dialer(engine, ami)
    await restarted.settle_stale_dials(OVERDUE)
    (due,) = await restarted.store.due(OVERDUE + RETRY, 1)
    assert await restarted.store.claim(due, dial_id(due.id, due.attempts + 1), OVERDUE + RETRY)
    await restarted._originate(due)

    (originate,) = ami.actions
    assert originate["ActionID"] == originate["ChannelId"] == f"hotline-callback-{callback_id}-2"
    assert (await callback(engine, callback_id)).channel_uniqueid == dial_id(callback_id, 2)
    assert not await restarted.store.claim(due, dial_id(due.id, 2), OVERDUE + RETRY), "dialled once at a time"


async def test_a_dial_whose_channel_reached_an_agent_is_answered_not_dialled_again(engine: AsyncEngine) -> None:
    # The queue log (or the tracker) recorded the callback's leg as answered; the dialer never heard.
    logged = await left_dialling(engine)
    async with engine.begin() as connection:
        await connection.execute(insert(Call).values(uniqueid=dial_id(logged, 1), caller_number=NUMBER,
                                                     outcome="answered", started_at=CLAIMED))
    # The dying server saw the agent take the call, not the OriginateResponse.
    ami = FakeAmi()
    dying = dialer(engine, ami)
    pending = await callback(engine, await added(engine, "13900139000", "pending", 0))
    assert await dying.store.claim(pending, dial_id(pending.id, 1), CLAIMED)
    await dying._originate(pending)
    dying.handle(events.AGENT_CONNECT, {"Uniqueid": dial_id(pending.id, 1), "MemberName": "1035"})
    await dying.background.finish(timeout=5)

    # (the agent's AgentConnect was recorded now, so "an hour later" is counted from now)
    assert await dialer(engine).settle_stale_dials(datetime.now(UTC) + timedelta(hours=1)) == 2
    for callback_id in (logged, pending.id):
        answered = await callback(engine, callback_id)
        assert (answered.status, answered.attempts) == ("answered", 1)
    assert (await callback(engine, pending.id)).agent == "1035"
    assert await CallbackStore(engine).due(CLAIMED + timedelta(days=1), 10) == []


async def test_a_dial_still_awaited_or_still_on_the_line_is_left_alone(engine: AsyncEngine) -> None:
    awaited = await left_dialling(engine)
    on_the_line = await left_dialling(engine, number="13900139000")
    async with engine.begin() as connection:  # the citizen answered and waits in the queue
        await connection.execute(insert(Call).values(uniqueid=dial_id(on_the_line, 1), caller_number="13900139000",
                                                     outcome="in_progress", started_at=CLAIMED))
    server = dialer(engine)
    server.dialling[dial_id(awaited, 1)] = Waiting(awaited, 1, CLAIMED)

    assert await server.settle_stale_dials(OVERDUE) == 0
    assert {(await callback(engine, c)).status for c in (awaited, on_the_line)} == {"dialling"}

    # No response long after the ring time: it was lost (the AMI connection dropped), settled like any other.
    assert await server.settle_stale_dials(CLAIMED + RING + 2 * STALE_MARGIN + timedelta(seconds=1)) == 1
    assert (await callback(engine, awaited)).status == "pending" and not server.dialling
    assert (await callback(engine, on_the_line)).status == "dialling", "its call's end decides"


async def test_two_servers_settle_a_stale_dial_once(engine: AsyncEngine) -> None:
    callback_id = await left_dialling(engine, attempts=1)
    settled = await asyncio.gather(dialer(engine).settle_stale_dials(OVERDUE),
                                   dialer(engine).settle_stale_dials(OVERDUE))
    assert sorted(settled) == [0, 1]
    async with engine.connect() as connection:
        row = (await connection.execute(select(Callback.status, Callback.attempts)
                                        .where(Callback.id == callback_id))).one()
    assert tuple(row) == ("pending", 1)


async def test_a_late_response_does_not_settle_the_next_attempt(engine: AsyncEngine) -> None:
    callback_id = await left_dialling(engine, attempts=1)
    store = CallbackStore(engine)
    await dialer(engine).settle_stale_dials(OVERDUE)
    (due,) = await store.due(OVERDUE + RETRY, 1)
    assert await store.claim(due, dial_id(callback_id, 2), OVERDUE + RETRY)
    assert not await store.finish_attempt(callback_id, 1, "answered", "answered", None, OVERDUE + RETRY)
    assert (await callback(engine, callback_id)).status == "dialling"


async def test_the_running_dialer_looks_for_stale_dials_again_not_only_at_its_start(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dialer_module, "STALE_CHECK_SECONDS", 0.05)
    server = CallbackDialer(Settings(callbacks=CallbackSettings(dial_interval=0.01)), cast(AmiClient, FakeAmi()),
                            CallbackStore(engine))
    checks: asyncio.Queue[int] = asyncio.Queue()
    settle = server.settle_stale_dials

    async def counted(now: datetime) -> int:
        settled = await settle(now)
        checks.put_nowait(settled)
        return settled

    monkeypatch.setattr(server, "settle_stale_dials", counted)
    task = asyncio.create_task(server.run())
    assert await asyncio.wait_for(checks.get(), 5) == 0, "nothing stale at its start"
    # A server that started less than STALE_MARGIN after another died finds its dial stale only later.
    callback_id = await left_dialling(engine, at=datetime.now(UTC) - RING - STALE_MARGIN - timedelta(seconds=1))
    while await asyncio.wait_for(checks.get(), 5) == 0:
        pass
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert (await callback(engine, callback_id)).status == "pending"
