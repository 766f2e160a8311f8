"""hotline-intake with a spec'd fake AgiCall, the real CallContext, CallTracker and settings.

The variable names are spelled out (not taken from ivr.dialplan_variables) because they are the
contract with asterisk_conf/extensions.conf.in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, cast
from unittest import mock

import pytest
from sqlalchemy.exc import OperationalError

from ivr.ami.queue_state import QueueState
from ivr.calls.store import CallerHistory, CallStore
from ivr.calls.tracker import CallTracker, Row
from ivr.db.models import WorkOrder
from ivr.fastagi import AgiCall, AgiError, AgiHangup, Router
from ivr.intake.context import CallContextFactory, Services
from ivr.intake.handlers import hotline_intake, register
from ivr.settings import FastAgiSettings, Settings
from ivr.workorders.store import WorkOrderStore
from tests.unit.announced import announce

UID = "1700000000.42"
CALLER = "13800138000"
DIALLED = "12345"
SOUNDS = PurePosixPath("/var/lib/hotline/sounds")
GREETING = "/var/lib/hotline/sounds/greeting"
CALLFLOW_LOG = "ivr.callflow"
STEP = 2.0
KEYS = "1293"  # the default lines' keys (enterprise, dialect, English), then the progress query's


def entering(queue: str = "hotline-general", priority: str = "0", min_penalty: str = "0", max_penalty: str = "9",
             stretch: str = "30", line: str = "hotline-general") -> list[Any]:
    return [
        mock.call.set_variable("HOTLINE_LINE", line),
        mock.call.set_variable("HOTLINE_QUEUE", queue),
        mock.call.set_variable("QUEUE_PRIO", priority),
        mock.call.set_variable("QUEUE_MIN_PENALTY", min_penalty),
        mock.call.set_variable("QUEUE_MAX_PENALTY", max_penalty),
        mock.call.set_variable("HOTLINE_STRETCH", stretch),
    ]


class FakeStore:
    """CallStore.caller_history only: answers, fails, or blocks until released (or cancelled)."""

    def __init__(self, history: CallerHistory | None = None, error: BaseException | None = None,
                 block: bool = False) -> None:
        self.history = history or CallerHistory(0, None)
        self.error = error
        self.block = block
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.queries: list[tuple[str, datetime, str]] = []

    async def caller_history(self, number: str, now: datetime, exclude: str, days: int = 30) -> CallerHistory:
        self.queries.append((number, now, exclude))
        self.entered.set()
        try:
            if self.block:
                await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        if self.error is not None:
            raise self.error
        return self.history


class FakeOrders:
    def __init__(self, order: WorkOrder | None) -> None:
        self.order = order

    async def latest_open(self, number: str, since: datetime) -> WorkOrder | None:
        return self.order


def member(queue: str, seat: str, agent_id: str, penalty: int, status: str = "1") -> dict[str, str]:
    return {"Event": "QueueMember", "Queue": queue, "Name": agent_id, "Location": f"PJSIP/{seat}",
            "Status": status, "Paused": "0", "Penalty": str(penalty)}


def order_of(agent_id: str) -> WorkOrder:
    return WorkOrder(id=7, status="open", source="phone", caller_number=CALLER, agent=agent_id,
                     created_at=datetime.now(UTC))


class Flow:
    """One intake run: the fake call, the real context around a fake store, the tracker's rows."""

    def __init__(self, store: FakeStore, lookup_timeout: float = 0.5, queue_state: QueueState | None = None,
                 open_order: WorkOrder | None = None) -> None:
        settings = Settings()
        settings = dataclasses.replace(settings, fastagi=FastAgiSettings(lookup_timeout=lookup_timeout))
        self.rows: list[Row] = []
        self.tracker = CallTracker("12345", "citizens", publish=self.rows.append)
        self.store = store
        services = Services(settings, self.tracker, cast(CallStore, store), SOUNDS, queue_state=queue_state,
                            work_orders=cast(WorkOrderStore, FakeOrders(open_order)))
        self.call: Any = mock.create_autospec(AgiCall, instance=True)
        self.call.uniqueid = UID
        self.call.caller_number = CALLER
        self.call.dialled_number = DIALLED
        self.call.stream_file.return_value = ""
        self.ctx = CallContextFactory(services)(self.call)

    async def run(self) -> None:
        announce(self.tracker, UID)
        self.rows.clear()
        async with asyncio.timeout(STEP):
            await hotline_intake(self.call, self.ctx)

    def variables(self) -> dict[str, str]:
        return {c.args[0]: c.args[1] for c in self.awaited() if c[0] == "set_variable"}

    def awaited(self) -> list[Any]:
        """Every await on the call, in order (set_variable and stream_file alike); the variables set together
        by set_variables as if one by one, in their order."""
        calls: list[Any] = []
        for c in self.call.mock_calls:
            if c[0] == "set_variables":
                calls.extend(mock.call.set_variable(name, value) for name, value in c.args[0].items())
            elif c[0] in {"set_variable", "stream_file"}:
                calls.append(c)
        return calls

    def round_trips(self) -> int:
        return sum(1 for c in self.call.mock_calls if c[0] in {"set_variable", "set_variables", "stream_file"})


@pytest.fixture(autouse=True)
def callflow_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=CALLFLOW_LOG)
    return caplog


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == CALLFLOW_LOG and r.levelno == logging.WARNING]


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


async def test_greets_marks_and_reports_history_in_order(callflow_logs: pytest.LogCaptureFixture) -> None:
    flow = Flow(FakeStore(CallerHistory(3, ago(hours=2))))
    await flow.run()

    assert flow.awaited() == [
        mock.call.set_variable("HOTLINE_INTAKE", "ivr"),
        mock.call.stream_file(GREETING, KEYS),
        mock.call.set_variable("HOTLINE_GREETED", "1"),
        *entering(),
        mock.call.set_variable("HOTLINE_PRIOR_CALLS", "3"),
        mock.call.set_variable("HOTLINE_REPEAT_CALLER", "1"),
    ]
    assert flow.round_trips() == 4, "intake mark, greeting, greeted mark, then the rest in one go"
    assert warnings(callflow_logs) == []
    infos = [r.getMessage() for r in callflow_logs.records if r.name == CALLFLOW_LOG]
    assert infos == [f"[{UID}] greeted {CALLER} (prior calls: 3), line general, entering hotline-general"]


async def test_looks_up_the_caller_by_number_and_excludes_this_call() -> None:
    flow = Flow(FakeStore(CallerHistory(1, ago(days=3))))
    before = datetime.now(UTC)
    await flow.run()

    [(number, now, exclude)] = flow.store.queries
    assert (number, exclude) == (CALLER, UID)
    assert now.tzinfo is not None and before <= now <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("age", "naive", "repeat"),
    [
        (timedelta(hours=1), False, "1"),
        (timedelta(hours=23, minutes=50), False, "1"),
        (timedelta(hours=25), False, "0"),
        (timedelta(days=10), False, "0"),
        (timedelta(hours=1), True, "1"),  # SQLite hands back naive UTC
        (timedelta(hours=30), True, "0"),
        (None, False, "0"),
    ],
    ids=["1h", "23h50m", "25h", "10d", "naive-1h", "naive-30h", "never"],
)
async def test_repeat_caller_means_a_call_within_24_hours(age: timedelta | None, naive: bool, repeat: str) -> None:
    # The moment is taken when the test runs, not when the module is collected: a long run must not age it.
    last_call_at = None if age is None else datetime.now(UTC) - age
    if last_call_at is not None and naive:
        last_call_at = last_call_at.replace(tzinfo=None)
    flow = Flow(FakeStore(CallerHistory(0 if last_call_at is None else 2, last_call_at)))
    await flow.run()

    assert flow.variables()["HOTLINE_REPEAT_CALLER"] == repeat
    assert flow.variables()["HOTLINE_PRIOR_CALLS"] == ("0" if last_call_at is None else "2")


async def test_greeting_does_not_wait_for_the_look_up() -> None:
    store = FakeStore(CallerHistory(5, ago(hours=1)), block=True)
    flow = Flow(store, lookup_timeout=STEP)
    lookup_pending_during_greeting: list[bool] = []

    async def greeting(path: str, escape_digits: str = "", timeout: float = 60.0) -> str:
        await store.entered.wait()  # the look-up is in flight ...
        lookup_pending_during_greeting.append(not store.release.is_set())
        store.release.set()  # ... and only answers once the greeting is under way
        return ""

    flow.call.stream_file.side_effect = greeting
    await flow.run()

    assert lookup_pending_during_greeting == [True]
    assert flow.variables()["HOTLINE_PRIOR_CALLS"] == "5"


async def test_slow_look_up_is_skipped_and_the_greeting_still_plays(
    callflow_logs: pytest.LogCaptureFixture,
) -> None:
    store = FakeStore(CallerHistory(9, ago(hours=1)), block=True)  # never released
    flow = Flow(store, lookup_timeout=0.05)
    await flow.run()

    assert flow.awaited() == [
        mock.call.set_variable("HOTLINE_INTAKE", "ivr"),
        mock.call.stream_file(GREETING, KEYS),
        mock.call.set_variable("HOTLINE_GREETED", "1"),
        *entering(),
    ]
    assert "HOTLINE_PRIOR_CALLS" not in flow.variables()
    assert "HOTLINE_REPEAT_CALLER" not in flow.variables()
    assert store.cancelled.is_set(), "the timed-out query must be cancelled, not left running"
    assert warnings(callflow_logs) == [f"[{UID}] caller look-up skipped: TimeoutError"]


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (OperationalError("SELECT count(calls.id)", {}, Exception("database is locked")), "OperationalError"),
        (ConnectionRefusedError(111, "Connection refused"), "ConnectionRefusedError"),
    ],
    ids=["sqlalchemy", "oserror"],
)
async def test_failed_look_up_is_skipped_and_the_greeting_still_plays(
    callflow_logs: pytest.LogCaptureFixture, error: BaseException, name: str
) -> None:
    flow = Flow(FakeStore(error=error))
    await flow.run()

    assert flow.awaited() == [
        mock.call.set_variable("HOTLINE_INTAKE", "ivr"),
        mock.call.stream_file(GREETING, KEYS),
        mock.call.set_variable("HOTLINE_GREETED", "1"),
        *entering(),
    ]
    assert warnings(callflow_logs) == [f"[{UID}] caller look-up skipped: {name}"]


async def test_hangup_during_the_greeting_propagates_and_greeted_is_not_set() -> None:
    store = FakeStore(CallerHistory(1, ago(hours=1)), block=True)
    flow = Flow(store, lookup_timeout=STEP)

    async def caller_hangs_up(path: str, escape_digits: str = "", timeout: float = 60.0) -> str:
        await store.entered.wait()
        raise AgiHangup(f"channel hung up while playing {path}")

    flow.call.stream_file.side_effect = caller_hangs_up
    with pytest.raises(AgiHangup):
        await flow.run()

    assert flow.awaited() == [
        mock.call.set_variable("HOTLINE_INTAKE", "ivr"),
        mock.call.stream_file(GREETING, KEYS),
    ]
    async with asyncio.timeout(STEP):
        await store.cancelled.wait()  # the look-up does not outlive the call


async def test_missing_greeting_prompt_propagates_and_greeted_is_not_set() -> None:
    """The dialplan then plays its own greeting (it checks HOTLINE_GREETED)."""
    flow = Flow(FakeStore(CallerHistory(1, ago(hours=1))))
    flow.call.stream_file.side_effect = AgiError(f"prompt {GREETING} could not be played", "200 result=-1 endpos=0")
    with pytest.raises(AgiError, match="could not be played"):
        await flow.run()

    assert "HOTLINE_GREETED" not in flow.variables()
    assert flow.variables() == {"HOTLINE_INTAKE": "ivr"}


async def test_tracker_publishes_the_ivr_intake_row() -> None:
    flow = Flow(FakeStore(CallerHistory(0, None)))
    before = datetime.now(UTC)
    await flow.run()

    assert len(flow.rows) == 2  # greeted, then routed to a line
    row = flow.rows[0] | flow.rows[1]
    assert row["line"] == "hotline-general"
    assert row["uniqueid"] == UID
    assert row["intake"] == "ivr"
    assert row["caller_number"] == CALLER
    assert row["dialled_number"] == DIALLED
    assert before <= row["started_at"] <= datetime.now(UTC)
    assert flow.tracker.live[UID].intake == "ivr"


async def test_tracker_row_is_published_even_when_the_caller_hangs_up_at_once() -> None:
    flow = Flow(FakeStore(CallerHistory(0, None)))
    flow.call.set_variable.side_effect = AgiHangup("channel hung up before SET VARIABLE")
    with pytest.raises(AgiHangup):
        await flow.run()

    assert [row["intake"] for row in flow.rows] == ["ivr"]
    flow.call.stream_file.assert_not_awaited()


def test_register_routes_hotline_intake() -> None:
    router: Router[Any] = Router()
    register(router)
    assert router.resolve("hotline-intake") is hotline_intake
    assert router.scripts == ["hotline-intake"]


# Lines and the repeat caller's way back


def state_with(*members: dict[str, str]) -> QueueState:
    state = QueueState()
    state.replace(list(members))
    return state


async def test_a_key_during_the_greeting_chooses_a_line_with_agents() -> None:
    flow = Flow(FakeStore(), queue_state=state_with(member("hotline-enterprise", "8031", "1031", 0)))
    flow.call.stream_file.return_value = "1"
    await flow.run()
    assert (flow.variables()["HOTLINE_LINE"], flow.variables()["HOTLINE_QUEUE"]) == ("hotline-enterprise",) * 2
    assert flow.tracker.live[UID].line == "hotline-enterprise"


async def test_a_line_nobody_is_logged_in_to_sends_the_caller_to_the_default_line() -> None:
    flow = Flow(FakeStore(), queue_state=state_with(member("hotline-general", "8001", "1001", 0)))
    flow.call.stream_file.return_value = "9"
    await flow.run()
    assert flow.variables()["HOTLINE_LINE"] == "hotline-general"


async def test_a_caller_with_an_open_order_rings_its_agent_when_that_agent_is_free() -> None:
    state = state_with(member("hotline-direct", "8007", "1007", 7), member("hotline-direct", "8001", "1001", 1))
    flow = Flow(FakeStore(), queue_state=state, open_order=order_of("1007"))
    await flow.run()
    assert flow.awaited()[3:9] == entering("hotline-direct", priority="10", min_penalty="7", max_penalty="7",
                                           stretch="17"), "only seat 8007 (index 7) rings, for one ring timeout"
    assert flow.tracker.live[UID].priority == 10


async def test_a_caller_with_an_open_order_whose_agent_is_busy_waits_at_the_front() -> None:
    state = state_with(member("hotline-direct", "8007", "1007", 7, status="2"))
    flow = Flow(FakeStore(), queue_state=state, open_order=order_of("1007"))
    await flow.run()
    variables = flow.variables()
    assert (variables["HOTLINE_QUEUE"], variables["QUEUE_PRIO"], variables["QUEUE_MAX_PENALTY"]) == \
        ("hotline-general", "10", "9")


async def test_the_progress_key_asks_the_dialplan_for_the_progress_query_on_the_way_to_the_default_line() -> None:
    flow = Flow(FakeStore(), queue_state=state_with(member("hotline-enterprise", "8031", "1031", 0)))
    flow.call.stream_file.return_value = "3"
    await flow.run()
    variables = flow.variables()
    assert (variables["HOTLINE_NEXT"], variables["HOTLINE_LINE"]) == ("progress", "hotline-general")


async def test_a_line_key_does_not_ask_for_the_progress_query() -> None:
    flow = Flow(FakeStore(), queue_state=state_with(member("hotline-enterprise", "8031", "1031", 0)))
    flow.call.stream_file.return_value = "1"
    await flow.run()
    assert "HOTLINE_NEXT" not in flow.variables()
