"""Incoming SMS on SQLite and PostgreSQL: Kannel's fields checked; an unknown number's SMS is an SMS draft order
with its acknowledgement queued, once however often Kannel delivers it; a reply answers the waiting survey and the
dialer is told; a malformed reply is kept and explained once; 退订 puts the number on the do-not-contact list;
an empty SMS is rejected; a message a stopped server left unhandled is handled at the next start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import DoNotContact, OrderEvent, SmsMessage, Survey, SurveyAnswer, WorkOrder
from ivr.sms.inbox import BadIncoming, Incoming, SmsInbox, parse
from ivr.sms.store import SmsStore
from ivr.surveys.store import SurveyStore

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
CITIZEN = "13800138000"


class Recorder:
    def __init__(self) -> None:
        self.wakes = 0
        self.answered: list[Survey] = []

    def wake(self) -> None:
        self.wakes += 1

    async def survey_answered(self, survey: Survey) -> None:
        self.answered.append(survey)


def inbox_for(engine: AsyncEngine, recorder: Recorder) -> SmsInbox:
    return SmsInbox(SmsStore(engine), SurveyStore(engine), recorder.wake, recorder.survey_answered, lambda: NOW)


async def waiting_survey(engine: AsyncEngine, number: str = CITIZEN) -> int:
    async with engine.begin() as connection:
        return int((await connection.execute(insert(Survey).values(
            number=number, script="return_visit", status="waiting_reply", next_action="wait_reply", next_at=NOW,
            closed_at=NOW, calls=0, texted=True, appeal="none", round=1, created_at=NOW, updated_at=NOW,
        ).returning(Survey.id))).scalar_one())


async def rows(engine: AsyncEngine, table: type, *where: object) -> list[object]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(table).where(*where))).all())  # type: ignore[arg-type]


async def outgoing(engine: AsyncEngine) -> list[SmsMessage]:
    return [SmsMessage(**row._asdict()) for row in await rows(  # type: ignore[attr-defined]
        engine, SmsMessage, SmsMessage.direction == "out")]


def test_kannels_fields_are_checked_and_the_sender_normalised() -> None:
    assert parse({"id": "k1", "from": "+86 138-0013-8000", "text": "路灯坏了"}) == Incoming(
        "k1", CITIZEN, "路灯坏了")
    assert parse({"id": "k1", "from": CITIZEN, "text": ""}).text == ""
    for fields, message in [
        ({"from": CITIZEN, "text": "x"}, "id is missing"),
        ({"id": "k" * 65, "from": CITIZEN, "text": "x"}, "id is longer than 64"),
        ({"id": "k1", "text": "x"}, "from is missing"),
        ({"id": "k1", "from": "1380013", "text": "x"}, "from: '1380013' is not an 11-digit mobile number"),
        ({"id": "k1", "from": "abc", "text": "x"}, "holds more than digits"),
        ({"id": "k1", "from": CITIZEN}, "text is missing"),
    ]:
        with pytest.raises(BadIncoming, match=message):
            parse(fields)


async def test_an_unknown_numbers_sms_is_a_draft_order_acknowledged_with_its_number_once(
        engine: AsyncEngine) -> None:
    recorder = Recorder()
    inbox = inbox_for(engine, recorder)
    text = "  人民路的路灯坏了三天了，请尽快修理。\n"
    first = await inbox.receive(Incoming("kannel-1", CITIZEN, text))
    again = await inbox.receive(Incoming("kannel-1", CITIZEN, text))  # Kannel retried the delivery
    assert first.outcome == "order" and again.outcome == "duplicate" and again.order_id == first.order_id
    [order] = await rows(engine, WorkOrder)
    assert (order.status, order.source, order.caller_number, order.content, order.number) == (  # type: ignore[attr-defined]
        "draft", "sms", CITIZEN, text, f"20261125{first.order_id:06d}")
    [event] = await rows(engine, OrderEvent)
    assert (event.actor, event.action, event.to_state) == ("sms", "create", "draft")  # type: ignore[attr-defined]
    [ack] = await outgoing(engine)
    assert (ack.number, ack.purpose, ack.dedup_key, ack.status, ack.order_id) == (
        CITIZEN, "ack", f"ack:{first.order_id}", "queued", first.order_id)
    assert first.order_number is not None and first.order_number in ack.text
    [kept] = await rows(engine, SmsMessage, SmsMessage.direction == "in")
    assert (kept.status, kept.purpose, kept.text, kept.order_id) == ("handled", "request", text, first.order_id)  # type: ignore[attr-defined]
    assert recorder.wakes == 1


async def test_two_deliveries_of_one_sms_at_once_make_one_order(engine: AsyncEngine) -> None:
    inbox = inbox_for(engine, Recorder())
    both = await asyncio.gather(*(inbox.receive(Incoming("kannel-2", CITIZEN, "噪音扰民")) for _ in range(2)))
    assert sorted(handled.outcome for handled in both) in (["duplicate", "order"], ["order", "order"])
    assert len({handled.order_id for handled in both}) == 1
    assert len(await rows(engine, WorkOrder)) == 1 and len(await outgoing(engine)) == 1


async def test_a_reply_answers_the_waiting_survey_and_the_dialer_is_told(engine: AsyncEngine) -> None:
    recorder = Recorder()
    survey_id = await waiting_survey(engine)
    handled = await inbox_for(engine, recorder).receive(Incoming("kannel-3", CITIZEN, "1 2"))
    assert (handled.outcome, handled.survey_id) == ("answered", survey_id)
    [survey] = recorder.answered
    assert (survey.id, survey.status, survey.answered_via, survey.rating, survey.solved, survey.reply_text) == (
        survey_id, "answered", "sms", "satisfied", True, "1 2")
    answers = {row.question: row.answer for row in await rows(engine, SurveyAnswer)}  # type: ignore[attr-defined]
    assert answers == {"solved": "yes", "rating": "satisfied"}
    assert await outgoing(engine) == [] and await rows(engine, WorkOrder) == []
    [kept] = await rows(engine, SmsMessage)
    assert (kept.status, kept.purpose, kept.survey_id) == ("handled", "reply", survey_id)  # type: ignore[attr-defined]


async def test_a_malformed_reply_is_kept_and_explained_once_and_the_survey_waits(engine: AsyncEngine) -> None:
    recorder = Recorder()
    inbox = inbox_for(engine, recorder)
    survey_id = await waiting_survey(engine)
    first = await inbox.receive(Incoming("kannel-4", CITIZEN, "你们是谁？"))
    second = await inbox.receive(Incoming("kannel-5", CITIZEN, "ok"))
    assert (first.outcome, second.outcome) == ("malformed", "malformed")
    [clarify] = await outgoing(engine)
    assert (clarify.purpose, clarify.dedup_key, clarify.survey_id) == ("clarify", f"clarify:{survey_id}", survey_id)
    assert clarify.text.startswith("【12345热线】未能识别您的回复。请回复2位数字")
    survey = await SurveyStore(engine).get(survey_id)
    assert survey is not None and (survey.status, survey.reply_text) == ("waiting_reply", "ok")
    kept = await rows(engine, SmsMessage, SmsMessage.direction == "in")
    assert [(row.status, row.survey_id) for row in kept] == [("handled", survey_id)] * 2  # type: ignore[attr-defined]
    assert all("answers neither question" in (row.error or "") for row in kept)  # type: ignore[attr-defined]
    assert recorder.answered == [] and recorder.wakes == 1


async def test_td_puts_the_number_on_the_do_not_contact_list_and_confirms(engine: AsyncEngine) -> None:
    survey_id = await waiting_survey(engine)
    handled = await inbox_for(engine, Recorder()).receive(Incoming("kannel-6", CITIZEN, "TD"))
    assert handled.outcome == "opted_out"
    [entry] = await rows(engine, DoNotContact)
    assert entry.number == CITIZEN  # type: ignore[attr-defined]
    [confirmation] = await outgoing(engine)
    assert (confirmation.purpose, confirmation.dedup_key) == ("optout", "optout:1") and "退订" in confirmation.text
    survey = await SurveyStore(engine).get(survey_id)
    assert survey is not None and survey.status == "unreachable"


async def test_an_empty_sms_is_rejected_and_a_landline_gets_no_acknowledgement(engine: AsyncEngine) -> None:
    inbox = inbox_for(engine, Recorder())
    assert (await inbox.receive(Incoming("kannel-7", CITIZEN, "  "))).outcome == "empty"
    assert (await inbox.receive(Incoming("kannel-8", "01012345678", "井盖丢了"))).outcome == "order"
    assert await outgoing(engine) == []
    statuses = [row.status for row in await rows(engine, SmsMessage)]  # type: ignore[attr-defined]
    assert statuses == ["rejected", "handled"]


async def test_a_message_a_stopped_server_left_unhandled_is_handled_at_start(engine: AsyncEngine) -> None:
    store = SmsStore(engine)
    await store.keep("kannel-9", CITIZEN, "垃圾没人清运", NOW)  # stored, then the server stopped
    inbox = inbox_for(engine, Recorder())
    assert await inbox.recover() == 1
    assert len(await rows(engine, WorkOrder)) == 1 and await inbox.recover() == 0
