"""Return visits and survey calls (回访) with the real Asterisk: the hotline originates a call through the carrier
to a SIPp citizen, who keys the answers; unanswered and busy calls are retried at the next calling window, then
the citizen is texted; a server restart in the middle of a campaign calls no number twice and skips none."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.db.models import Campaign, SmsMessage, Survey, WorkOrder
from ivr.democall import Sipp
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.surveys.dialer import SurveyDialer, windows_of
from ivr.workorders.actors import Actor
from ivr.workorders.service import Intake
from routing import return_visits as visits
from routing.survey_scripts import SCRIPTS, prompt_name
from tests.helpers import CARRIER_IP, Hotline, run_sipp, start_hotline, wait

pytestmark = [pytest.mark.asterisk, pytest.mark.dials_surveys]
PHONE_PORT = 15070  # the carrier contact in the test settings
NUMBER = "13800138000"
AGENT = Actor("1001", "agent")


def prompt_ms(hotline: Hotline, name: str) -> int:
    with wave.open(str(hotline.app[keys.LAYOUT].sounds_dir / f"{name}.wav")) as sound:
        return int(sound.getnframes() / sound.getframerate() * 1000)


def keys_after_intro(hotline: Hotline, script: str) -> int:
    """When the citizen keys the first answer: just after the intro, while the first question plays."""
    return prompt_ms(hotline, prompt_name(SCRIPTS[script], "intro")) + 1200


def move_clock_to(dialer: SurveyDialer, moment: datetime) -> None:
    """The dialer's clock runs on from `moment` (the next calling window comes without waiting hours)."""
    offset = moment - datetime.now(UTC)
    dialer.clock = lambda: datetime.now(UTC) + offset
    dialer.wake()


def ended(dialer: SurveyDialer, survey_id: int) -> asyncio.Future[Survey]:
    future: asyncio.Future[Survey] = asyncio.get_running_loop().create_future()

    def listener(survey: Survey) -> None:
        if survey.id == survey_id and not future.done():
            future.set_result(survey)

    dialer.ended_listeners.append(listener)
    return future


def phone(scenario: str, pause_ms: int | None = None, calls: int = 1, **variables: str) -> Sipp:
    return Sipp(scenario=scenario, target="", local_ip=CARRIER_IP, local_port=PHONE_PORT, pause_ms=pause_ms,
                variables=variables, timeout_s=90, calls=calls)


async def closed_order(hotline: Hotline) -> WorkOrder:
    orders = hotline.app[keys.ORDERS]
    now = datetime.now(UTC)
    order = await orders.create(Intake(channel="phone", content="人民路路灯不亮", caller_number=NUMBER), AGENT, now)
    await orders.act(order.id, "close_at_intake", AGENT, now, {"reply": "已告知市民报修电话"})
    return order


async def planned_visit(hotline: Hotline, order_id: int) -> Survey:
    dialer = hotline.app[keys.SURVEY_DIALER]
    move_clock_to(dialer, datetime.now(UTC) - timedelta(days=1))  # no call before the test is ready for it
    await dialer.plan_visits()
    [survey] = await hotline.app[keys.SURVEYS].of_order(order_id)
    assert survey.number == NUMBER and survey.status == "due" and survey.next_action == "call"
    return survey


async def test_a_closed_order_is_visited_by_phone_and_the_keyed_answers_are_on_the_order(hotline: Hotline) -> None:
    order = await closed_order(hotline)
    survey = await planned_visit(hotline, order.id)
    dialer = hotline.app[keys.SURVEY_DIALER]
    assert survey.next_at is not None
    closed_local = survey.closed_at.astimezone(dialer.zone)
    assert survey.next_at.astimezone(dialer.zone).date() == closed_local.date() + timedelta(days=1), \
        "a visit starts the day after closure"
    done = ended(dialer, survey.id)
    citizen = phone("citizen_answers_survey.xml", keys_after_intro(hotline, "return_visit"), first="1", second="2")
    async with run_sipp(citizen) as sipp:
        move_clock_to(dialer, survey.next_at)
        answered = await wait(done, 60, "the survey call was not answered", sipp)
        assert await sipp.finished() == 0, sipp.errors
    assert (answered.status, answered.answered_via, answered.solved, answered.rating) == \
        ("answered", "phone", True, "satisfied")
    assert await hotline.app[keys.SURVEYS].answers([survey.id]) == {survey.id: {"solved": "yes",
                                                                                "rating": "satisfied"}}
    async with hotline.app[keys.ENGINE].connect() as connection:
        row = (await connection.execute(select(WorkOrder).where(WorkOrder.id == order.id))).one()
    assert (row.status, row.satisfied) == ("evaluated", True)


async def test_unanswered_and_busy_calls_are_retried_at_the_next_window_then_the_citizen_is_texted(
        hotline: Hotline) -> None:
    order = await closed_order(hotline)
    survey = await planned_visit(hotline, order.id)
    dialer, store = hotline.app[keys.SURVEY_DIALER], hotline.app[keys.SURVEYS]
    called_at = survey.next_at
    for attempt, scenario in enumerate(("citizen_busy.xml", "citizen_no_answer.xml", "citizen_busy.xml"), 1):
        assert called_at is not None
        retried = retry_scheduled(dialer, survey.id)
        async with run_sipp(phone(scenario)) as sipp:
            move_clock_to(dialer, called_at)
            await wait(retried, 30, f"call {attempt} did not end", sipp)
            assert await sipp.finished() == 0, sipp.errors
        after = await store.get(survey.id)
        assert after is not None and after.calls == attempt
        assert after.last_result == ("busy" if scenario == "citizen_busy.xml" else "no_answer")
        expected = visits.open_at(visits.after_window(called_at.astimezone(dialer.zone), dialer.windows),
                                  dialer.windows)
        assert after.next_at == expected, "retried at the next window, not in the same one"
        assert after.next_action == ("call" if attempt < 3 else "sms")
        called_at = after.next_at
    texted = sms_queued(hotline)
    assert called_at is not None
    move_clock_to(dialer, called_at)
    message = await wait(texted, 10, "no survey SMS after the last call")
    assert message.number == NUMBER and order.number in message.text and message.purpose == "survey"
    after = await store.get(survey.id)
    assert after is not None and (after.status, after.texted) == ("waiting_reply", True)


def retry_scheduled(dialer: SurveyDialer, survey_id: int) -> asyncio.Future[None]:
    """Resolves when the survey's call ended and its next step was written."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    original = dialer.store.call_ended

    async def spy(sid: int, *args: object, **kwargs: object) -> bool:
        moved = await original(sid, *args, **kwargs)  # type: ignore[arg-type]
        if sid == survey_id and not future.done():
            future.set_result(None)
            dialer.store.call_ended = original  # type: ignore[method-assign]
        return moved

    dialer.store.call_ended = spy  # type: ignore[method-assign,assignment]
    return future


def sms_queued(hotline: Hotline) -> asyncio.Future[SmsMessage]:
    future: asyncio.Future[SmsMessage] = asyncio.get_running_loop().create_future()

    async def look() -> None:
        async with hotline.app[keys.ENGINE].connect() as connection:
            row = (await connection.execute(select(SmsMessage).where(SmsMessage.purpose == "survey"))).first()
        if row and not future.done():
            future.set_result(SmsMessage(**row._asdict()))

    looking: set[asyncio.Task[None]] = set()

    def listener() -> None:
        task = asyncio.ensure_future(look())
        looking.add(task)
        task.add_done_callback(looking.discard)

    hotline.app[keys.SURVEY_DIALER].texted_listeners.append(listener)
    return future


CAMPAIGN_NUMBERS = ("13900000001", "13900000002", "13900000003")


async def add_campaign(hotline: Hotline) -> list[int]:
    now = datetime.now(UTC)
    async with hotline.app[keys.ENGINE].begin() as connection:
        campaign_id = (await connection.execute(insert(Campaign).values(
            name="政务服务评议", script="public_evaluation", channels="phone", status="running",
            quotas=json.dumps({}), created_by="supervisor", created_at=now, started_at=now).returning(Campaign.id))
        ).scalar_one()
        ids = []
        for line, number in enumerate(CAMPAIGN_NUMBERS, 1):
            ids.append((await connection.execute(insert(Survey).values(
                campaign_id=campaign_id, unit="urban", line=line, number=number, script="public_evaluation",
                status="due", next_action="call", next_at=now, closed_at=now, calls=0, texted=False, appeal="none",
                round=1, created_at=now, updated_at=now).returning(Survey.id))).scalar_one())
    return ids


@asynccontextmanager
async def one_call_at_a_time(settings: Settings, secrets: Secrets, asterisk: AsteriskProcess,
                             clock_at: datetime) -> AsyncIterator[Hotline]:
    capped = dataclasses.replace(settings, surveys=dataclasses.replace(settings.surveys, max_calls=1))
    async with start_hotline(capped, secrets, asterisk) as hotline:
        move_clock_to(hotline.app[keys.SURVEY_DIALER], clock_at)
        yield hotline


async def test_a_restart_mid_campaign_calls_no_number_twice_and_skips_none(
        settings: Settings, secrets: Secrets, asterisk: AsteriskProcess) -> None:
    in_window = next_window_start(settings)
    citizens = phone("citizen_answers_survey.xml", None, calls=len(CAMPAIGN_NUMBERS), first="2", second="3")
    answered: list[int] = []
    async with one_call_at_a_time(settings, secrets, asterisk, in_window - timedelta(days=1)) as hotline:
        ids = await add_campaign(hotline)
        dialer = hotline.app[keys.SURVEY_DIALER]
        citizens = dataclasses.replace(citizens, pause_ms=keys_after_intro(hotline, "public_evaluation"))
        first = ended(dialer, ids[0])
        dialer.ended_listeners.append(lambda survey: answered.append(survey.id))
        sipp_context = run_sipp(citizens)
        sipp = await sipp_context.__aenter__()
        try:
            move_clock_to(dialer, in_window)
            await wait(first, 60, "the campaign's first number was not surveyed", sipp)
        except BaseException:
            await sipp_context.__aexit__(None, None, None)
            raise
    try:  # the server stopped (its call in progress finished first) and starts again
        async with one_call_at_a_time(settings, secrets, asterisk, in_window) as hotline:
            dialer = hotline.app[keys.SURVEY_DIALER]
            rest = [ended(dialer, survey_id) for survey_id in ids if survey_id not in answered]
            await wait(asyncio.gather(*rest), 90, "numbers were skipped after the restart", sipp)
            assert await sipp.finished() == 0, sipp.errors  # exactly one call per number reached the phone
            surveys = [await hotline.app[keys.SURVEYS].get(survey_id) for survey_id in ids]
            answers = await hotline.app[keys.SURVEYS].answers(ids)
    finally:
        await sipp_context.__aexit__(None, None, None)
    assert [(s.number, s.status, s.calls) for s in surveys if s] == [(n, "answered", 1) for n in CAMPAIGN_NUMBERS]
    assert all(found == {"service": "satisfied", "efficiency": "basically_satisfied"} for found in answers.values())


def next_window_start(settings: Settings) -> datetime:
    """A moment inside the calling windows (tomorrow's first window): the test does not depend on the hour."""
    zone = ZoneInfo(settings.timezone)
    tomorrow = datetime.now(zone).date() + timedelta(days=1)
    first = min(windows_of(settings), key=lambda window: window.start)
    return datetime.combine(tomorrow, first.start, zone) + timedelta(minutes=1)

