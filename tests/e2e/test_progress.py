"""The progress query by phone (工单进度查询) through the real Asterisk: a citizen presses the progress key during
the greeting, hears their newest order, keys in an order number with SIP INFO DTMF, and is refused another
citizen's order.

What the caller heard is taken from the FastAGI conversation itself: every command our server sent on the
call, with Asterisk's reply (STREAM FILE answers with the offset it reached in the file: a prompt that was
missing or not played would show endpos=0)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ivr import keys
from ivr.db.models import OrderEvent, as_utc
from ivr.fastagi import AgiCall, AgiReply
from ivr.workorders.actors import Actor
from ivr.workorders.service import Intake
from tests.helpers import Hotline, wait

pytestmark = pytest.mark.asterisk

AGENT = Actor("1001", "agent")
PROGRESS_KEY = "3"
PROMPT_COMMANDS = ("STREAM FILE", "GET DATA")


@dataclass
class Prompt:
    name: str
    reply: AgiReply | None = None  # None: the caller hung up before Asterisk answered


@dataclass
class AgiLog:
    """The prompts our FastAGI server had Asterisk play, per call and script, and the sessions that ended."""

    prompts: dict[tuple[str, str], list[Prompt]] = field(default_factory=lambda: defaultdict(list))
    ended: dict[tuple[str, str], asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))

    def heard(self, uniqueid: str, script: str) -> list[str]:
        return [prompt.name for prompt in self.prompts[uniqueid, script]]

    async def session_ended(self, uniqueid: str, script: str) -> None:
        await wait(self.ended[uniqueid, script].wait(), 15, f"the {script} session of {uniqueid} did not end")


@pytest.fixture
def agi_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[AgiLog]:
    log = AgiLog()
    command, close = AgiCall.command, AgiCall.close

    async def logged_command(call: AgiCall, *words: str, timeout: float | None = None) -> AgiReply:
        if words[0] not in PROMPT_COMMANDS:
            return await command(call, *words, timeout=timeout)
        prompt = Prompt(PurePosixPath(words[1]).name)
        log.prompts[call.uniqueid, call.script].append(prompt)
        prompt.reply = await command(call, *words, timeout=timeout)
        return prompt.reply

    async def logged_close(call: AgiCall) -> None:
        await close(call)
        log.ended[call.uniqueid, call.script].set()

    monkeypatch.setattr(AgiCall, "command", logged_command)
    monkeypatch.setattr(AgiCall, "close", logged_close)
    yield log


async def dispatched_order(hotline: Hotline, caller: str, confidential: bool = False) -> tuple[int, str, datetime]:
    """An order from `caller`, taken by an agent and dispatched to a department: its id, number and due date."""
    service, now = hotline.app[keys.ORDERS], datetime.now(UTC)
    if not await hotline.app[keys.DIRECTORY].department_by_code("urban"):
        await hotline.app[keys.DIRECTORY].add_department("urban", "城管局")
    intake = Intake("phone", "幸福路路灯不亮", caller_number=caller, confidential=confidential)
    order = await service.create(intake, AGENT, now)
    await service.act(order.id, "dispatch", AGENT, now, {"department": "urban"})
    row = (await service.load(order.id, AGENT)).row
    return order.id, row.number, as_utc(row.due_at).astimezone(ZoneInfo(hotline.settings.timezone))


async def progress_queries(hotline: Hotline, order_id: int) -> list[tuple[str, str, str | None]]:
    async with hotline.app[keys.ENGINE].connect() as connection:
        rows = (await connection.execute(select(OrderEvent.actor, OrderEvent.role, OrderEvent.note).where(
            OrderEvent.order_id == order_id, OrderEvent.action == "progress_query"))).all()
    return [(row.actor, row.role, row.note) for row in rows]


def reading(intro: str, number: str, due: datetime) -> list[str]:
    return [intro, *(f"digit-{digit}" for digit in number), "progress-state-dispatched", "progress-due",
            f"month-{due.month}", f"day-{due.day}", "progress-due-end"]


def assert_no_failure(caplog: pytest.LogCaptureFixture, uniqueid: str) -> None:
    """Whatever happened in the query (the caller may hang up in the middle), the server saw no failure."""
    failures = [r.getMessage() for r in caplog.records if r.name == "ivr.fastagi.server"
                and r.levelno >= logging.ERROR and uniqueid in r.getMessage()]
    assert failures == []


def assert_played(log: AgiLog, uniqueid: str) -> None:
    for prompt in log.prompts[uniqueid, "hotline-progress"]:
        if prompt.reply is not None and "endpos" in prompt.reply.extra:
            assert int(prompt.reply.extra["endpos"]) > 0, f"{prompt.name} was not played: {prompt.reply}"


async def test_the_progress_key_reads_the_callers_newest_order_then_the_caller_joins_the_queue(
        hotline: Hotline, agi_log: AgiLog, caplog: pytest.LogCaptureFixture) -> None:
    caller = "13950000001"
    order_id, number, due = await dispatched_order(hotline, caller)
    joined = hotline.expect_ami_event(lambda name, f: name == "QueueCallerJoin" and f.get("CallerIDNum") == caller)
    finished = hotline.expect_finished_call()
    # Reading (about 13 s) and the menu with its 5 s for a key (12 s): no key, so on to the agents.
    citizen = await hotline.citizen_call("12345", 32_000, caller=caller, scenario="citizen_chooses_line.xml",
                                         digit=PROGRESS_KEY)
    assert citizen.process.returncode == 0, citizen.errors
    uniqueid = (await wait(finished, 15, "the call did not reach the database"))["uniqueid"]
    queue = await wait(joined, 1, "the caller did not reach the queue after the progress query")
    await agi_log.session_ended(uniqueid, "hotline-progress")

    assert agi_log.heard(uniqueid, "hotline-intake") == ["greeting"]
    assert agi_log.heard(uniqueid, "hotline-progress") == [*reading("progress-latest", number, due), "progress-menu"]
    assert_played(agi_log, uniqueid)
    assert_no_failure(caplog, uniqueid)
    assert (queue["Uniqueid"], queue["Queue"]) == (uniqueid, "hotline-general")
    assert await progress_queries(hotline, order_id) == [("phone", "citizen", uniqueid)]


@pytest.mark.parametrize("whose", ["own", "foreign"])
async def test_a_keyed_order_number_is_read_only_for_the_citizen_who_filed_it(
        hotline: Hotline, agi_log: AgiLog, caplog: pytest.LogCaptureFixture, whose: str) -> None:
    """The caller's own order is confidential, so it is read only once they key its number; another
    citizen's order number is refused like one that does not exist, and leaves no trace on that order."""
    caller, neighbour = "13950000002", "13950000003"
    own = await dispatched_order(hotline, caller, confidential=True)
    foreign = await dispatched_order(hotline, neighbour)
    keyed_id, keyed_number, due = own if whose == "own" else foreign
    finished = hotline.expect_finished_call()
    digits = {f"n{position}": digit for position, digit in enumerate(keyed_number, start=1)}
    citizen = await hotline.citizen_call("12345", 16_000, caller=caller, scenario="citizen_keys_order_number.xml",
                                         key=PROGRESS_KEY, **digits)
    assert citizen.process.returncode == 0, citizen.errors
    uniqueid = (await wait(finished, 15, "the call did not reach the database"))["uniqueid"]
    await agi_log.session_ended(uniqueid, "hotline-progress")

    heard = agi_log.heard(uniqueid, "hotline-progress")
    keyed = [prompt.reply.result if prompt.reply else None
             for prompt in agi_log.prompts[uniqueid, "hotline-progress"] if prompt.name == "progress-enter-number"]
    assert heard[:2] == ["progress-none", "progress-enter-number"], "a confidential order is not read by number"
    assert keyed == [keyed_number], "the INFO digits reached GET DATA, ended by #"
    assert_played(agi_log, uniqueid)
    assert_no_failure(caplog, uniqueid)
    if whose == "own":
        assert heard[2:] == [*reading("progress-requested", keyed_number, due), "progress-menu"]
        assert await progress_queries(hotline, keyed_id) == [("phone", "citizen", uniqueid)]
    else:
        assert heard[2:] == ["progress-not-found", "progress-menu"]
        assert await progress_queries(hotline, keyed_id) == []
