"""Issue 6, the SMS channel, end to end: the running server starts the real Kannel (bearerbox + smsbox with the fake
SMSC) and `fakesmsc` is the citizen's phone. A survey SMS reaches the phone as one long Chinese text (UCS-2 parts
that join) and is reported delivered; the phone's reply is stored as the survey's answers and the dialer is told;
an SMS to 12345 from an unknown number (one with a NUL character in it) opens an SMS draft order and the phone gets
its number back; a malformed reply gets one clarification, a second one none; bad HTTP input is refused with a
message; a message queued while Kannel is stopped is delivered exactly once after it is back; a crashed bearerbox is
started again by the server.

fakesmsc connects to the fake SMSC one at a time: each step's phone is closed before the next one connects."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import insert, select

from ivr import keys
from ivr.db.models import SmsMessage, Survey, SurveyAnswer, WorkOrder
from ivr.settings import Settings
from ivr.sms.inbox import Handled
from ivr.sms.kannel import KannelProcess
from ivr.sms.outbox import enqueue
from ivr.sms.sender import Attempt
from routing.sms_text import split
from routing.survey_scripts import SCRIPTS
from tests.helpers import Hotline, wait

FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
CITIZEN = "13800138000"
_GOT = re.compile(r"Got message \d+: <([^>]*)>")
SURVEY_TEXT = SCRIPTS["return_visit"].sms_text("您反映的人民路路灯不亮问题（工单20261125000001）"
                                               "已由城管局办结，请评价。")

pytestmark = [pytest.mark.asterisk, pytest.mark.sms]


@pytest.fixture(scope="module", autouse=True)
def kannel_installed() -> None:
    """Debian's Kannel and its test tools: installed when missing, never skipped."""
    if shutil.which("bearerbox", path="/usr/sbin:/usr/bin") is None or not Path(FAKESMSC).exists():
        subprocess.run(["apt-get", "install", "-y", "-q", "kannel", "kannel-extras"], check=True)


class Phone:
    """fakesmsc on the fake SMSC: sends the messages it was started with, then receives."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.parts_seen = 0

    async def _next_part(self) -> tuple[str, bytes, bytes]:
        """(kind, UDH, data) of the next message to the phone; kind: udh, ucs2, text or data."""
        assert self.process.stdout is not None
        while True:
            line = (await self.process.stdout.readline()).decode("latin-1")
            assert line, "fakesmsc stopped"
            match = _GOT.search(line)
            if match:
                # "sender receiver udh UDH data DATA" for a part, "sender receiver ucs2 DATA" or "… text TEXT"
                sender, _receiver, kind, rest = match.group(1).split(" ", 3)
                assert sender == "12345", f"the SMS came from {sender}, not the hotline's number"
                if kind == "text":
                    return kind, b"", rest.encode("latin-1")
                fields = rest.split(" ")
                return kind, _bytes(fields[0]) if kind == "udh" else b"", _bytes(fields[-1])

    async def next_text(self) -> str:
        """The next whole message: a long one's parts (UCS-2, concatenation UDH) joined in their order."""
        kind, udh, data = await self._next_part()
        self.parts_seen += 1
        if kind == "text":
            return data.decode("utf-8")
        if kind != "udh":
            return data.decode("utf-16-be")
        reference, total = udh[3], udh[4]
        parts = {udh[5]: data}
        while len(parts) < total:
            kind, udh, data = await self._next_part()
            self.parts_seen += 1
            assert kind == "udh" and udh[3] == reference, "another message came between the parts of a long one"
            parts[udh[5]] = data
        return b"".join(parts[sequence] for sequence in sorted(parts)).decode("utf-16-be")

    async def nothing_more(self, seconds: float) -> None:
        """No further message within `seconds` (what "delivered once" looks like from the phone)."""
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._next_part()


def _bytes(field: str) -> bytes:
    """fakesmsc's URL encoding, where + is a space (the byte 0x20 of a UCS-2 character)."""
    return urllib.parse.unquote_to_bytes(field.replace("+", "%20"))


def from_citizen(text: str, number: str = CITIZEN) -> str:
    """A fakesmsc message line: the citizen's SMS to 12345 in UCS-2."""
    return f"{number} 12345 ucs2 {urllib.parse.quote(text.encode('utf-16-be'))}"


@asynccontextmanager
async def phone(settings: Settings, *messages: str) -> AsyncIterator[Phone]:
    sends = ["-m", str(len(messages)), *messages] if messages else ["-m", "0", "0 0 text nop"]
    process = await asyncio.create_subprocess_exec(
        FAKESMSC, "-H", "127.0.0.1", "-r", str(settings.sms.fake_port), "-i", "0.1", *sends,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        yield Phone(process)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


def expect(listeners: list[Callable[[Any], None]], match: Callable[[Any], bool]) -> asyncio.Future[Any]:
    """A future for the first item a listener list is called with that matches (subscribe before acting)."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def seen(item: Any) -> None:
        if match(item) and not future.done():
            future.set_result(item)

    listeners.append(seen)
    future.add_done_callback(lambda _: listeners.remove(seen))
    return future


def expect_report(hotline: Hotline, message_id: int, status: str) -> asyncio.Future[None]:
    """A future for the delivery report that gives the message this status."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    listeners = hotline.app[keys.SMS_STORE].reported

    def seen(found: int, after: str) -> None:
        if (found, after) == (message_id, status) and not future.done():
            future.set_result(None)

    listeners.append(seen)
    future.add_done_callback(lambda _: listeners.remove(seen))
    return future


def expect_start(kannel: KannelProcess) -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def started() -> None:
        if not future.done():
            future.set_result(None)

    kannel.started_listeners.append(started)
    future.add_done_callback(lambda _: kannel.started_listeners.remove(started))
    return future


async def survey_waiting_for(hotline: Hotline, number: str = CITIZEN) -> int:
    now = datetime.now(UTC)
    async with hotline.app[keys.ENGINE].begin() as connection:
        return int((await connection.execute(insert(Survey).values(
            number=number, script="return_visit", status="waiting_reply", next_action="wait_reply", next_at=now,
            closed_at=now, calls=0, texted=True, appeal="none", round=1, created_at=now, updated_at=now,
        ).returning(Survey.id))).scalar_one())


async def queue(hotline: Hotline, text: str, key: str, number: str = CITIZEN, survey_id: int | None = None) -> int:
    async with hotline.app[keys.ENGINE].begin() as connection:
        await enqueue(connection, number=number, text=text, purpose="survey", dedup_key=key, now=datetime.now(UTC),
                      survey_id=survey_id)
        message_id = (await connection.execute(select(SmsMessage.id).where(SmsMessage.dedup_key == key))).scalar_one()
    hotline.app[keys.SMS_SENDER].wake()
    return int(message_id)


async def stored(hotline: Hotline, table: type, *where: Any) -> list[Any]:
    async with hotline.app[keys.ENGINE].connect() as connection:
        return list((await connection.execute(select(table).where(*where))).all())


async def test_a_survey_sms_arrives_whole_and_the_phones_reply_is_stored_as_the_answers(hotline: Hotline) -> None:
    survey_id = await survey_waiting_for(hotline)
    told: list[Survey] = []
    dialer_told = hotline.app[keys.SMS_INBOX].survey_answered

    async def survey_answered(survey: Survey) -> None:
        told.append(survey)
        await dialer_told(survey)

    hotline.app[keys.SMS_INBOX].survey_answered = survey_answered
    assert len(split(SURVEY_TEXT).parts) >= 2, "a long Chinese SMS"
    async with phone(hotline.settings) as handset:
        message_id = await queue(hotline, SURVEY_TEXT, f"survey:{survey_id}", survey_id=survey_id)
        delivered = expect_report(hotline, message_id, "delivered")
        assert await wait(handset.next_text(), 20, "the survey SMS did not reach the phone") == SURVEY_TEXT
        assert handset.parts_seen == len(split(SURVEY_TEXT).parts)
        await wait(delivered, 10, "no delivery report")
    inbox = hotline.app[keys.SMS_INBOX]
    answered = expect(inbox.handled_listeners, lambda handled: handled.survey_id == survey_id)
    async with phone(hotline.settings, f"{CITIZEN} 12345 text 1 2"):
        handled: Handled = await wait(answered, 20, "the reply was not handled")
    assert handled.outcome == "answered"
    [survey] = await stored(hotline, Survey, Survey.id == survey_id)
    assert (survey.status, survey.answered_via, survey.rating, survey.solved, survey.reply_text) == (
        "answered", "sms", "satisfied", True, "1 2")
    answers = {row.question: row.answer for row in await stored(hotline, SurveyAnswer)}
    assert answers == {"solved": "yes", "rating": "satisfied"}
    assert [survey.id for survey in told] == [survey_id]
    [sent] = await stored(hotline, SmsMessage, SmsMessage.id == message_id)
    assert (sent.status, sent.attempts) == ("delivered", 1) and sent.sent_at is not None


async def test_an_sms_to_12345_opens_an_order_and_the_phone_gets_its_number_back(hotline: Hotline) -> None:
    """Even one with a NUL character in it (which PostgreSQL's text refuses): stored without it."""
    words = "人民路和建设路路口的红绿灯坏了，早高峰很堵，请尽快派人修理。"
    started = asyncio.get_running_loop().time()
    async with phone(hotline.settings, from_citizen(words.replace("，", "，\x00", 1), "13900139000")) as handset:
        acknowledgement = await wait(handset.next_text(), 20, "no acknowledgement reached the phone")
    took = asyncio.get_running_loop().time() - started
    [order] = await stored(hotline, WorkOrder)
    assert (order.status, order.source, order.caller_number, order.content) == ("draft", "sms", "13900139000", words)
    assert order.number in acknowledgement and acknowledgement.startswith("【12345热线】")
    assert took < 180, "GB/T 33358: acknowledged within 3 minutes"
    [kept] = await stored(hotline, SmsMessage, SmsMessage.direction == "in")
    assert (kept.status, kept.text, kept.order_id) == ("handled", words, order.id)


async def test_a_malformed_reply_gets_one_clarification_and_the_survey_waits(hotline: Hotline) -> None:
    survey_id = await survey_waiting_for(hotline)
    async with phone(hotline.settings, from_citizen("你们是哪里？")) as handset:
        clarification = await wait(handset.next_text(), 20, "no clarification reached the phone")
    assert clarification.startswith("【12345热线】未能识别您的回复。请回复2位数字")
    inbox = hotline.app[keys.SMS_INBOX]
    second = expect(inbox.handled_listeners, lambda handled: handled.survey_id == survey_id)
    async with phone(hotline.settings, f"{CITIZEN} 12345 text ok"):
        handled: Handled = await wait(second, 20, "the second reply was not handled")
    assert handled.outcome == "malformed" and handled.survey_id == survey_id
    replies = await stored(hotline, SmsMessage, SmsMessage.direction == "out")
    assert [(reply.purpose, reply.dedup_key) for reply in replies] == [("clarify", f"clarify:{survey_id}")]
    [survey] = await stored(hotline, Survey, Survey.id == survey_id)
    assert (survey.status, survey.reply_text) == ("waiting_reply", "ok")


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_bad_http_input_is_refused_with_a_message(hotline: Hotline, method: str) -> None:
    token = hotline.secrets.sms_token
    url = f"{hotline.web_url}/api/sms/incoming"
    cases = [
        ({"from": CITIZEN, "to": "12345", "text": "路灯坏了", "id": "a1"}, 403, "bad or missing token"),
        ({"token": "guess", "from": CITIZEN, "text": "路灯坏了", "id": "a1"}, 403, "bad or missing token"),
        ({"token": token, "from": "12345abc", "text": "路灯坏了", "id": "a2"}, 400, "from: '12345abc' holds more"),
        ({"token": token, "from": "1380013800", "text": "路灯坏了", "id": "a3"}, 400, "not an 11-digit mobile"),
        ({"token": token, "from": CITIZEN, "id": "a4"}, 400, "text is missing"),
    ]
    async with aiohttp.ClientSession() as session:
        for fields, status, message in cases:
            request = session.get(url, params=fields) if method == "GET" else session.post(url, data=fields)
            async with request as response:
                body = await response.text()
                assert (response.status, message in body) == (status, True), (fields, body)
        async with session.get(f"{hotline.web_url}/api/sms/dlr", params={"id": "1", "status": "1"}) as response:
            assert response.status == 403 and "bad or missing token" in await response.text()
    rejected = await stored(hotline, SmsMessage)
    assert sorted((row.dedup_key, row.status) for row in rejected) == [
        ("in:a2", "rejected"), ("in:a3", "rejected"), ("in:a4", "rejected")], "kept, with the reason"
    assert await stored(hotline, WorkOrder) == []


async def test_a_message_queued_while_kannel_is_stopped_is_delivered_once_it_is_back(hotline: Hotline) -> None:
    kannel, sender = hotline.app[keys.KANNEL], hotline.app[keys.SMS_SENDER]
    await kannel.stop()
    refused = expect(sender.listeners, lambda attempt: attempt.outcome == "retry")
    message_id = await queue(hotline, "【12345热线】您的工单已办结，感谢您的支持。", "survey:down")
    attempt: Attempt = await wait(refused, 10, "the sender did not try while Kannel was stopped")
    assert attempt.message_id == message_id and "Kannel not reached" in attempt.detail
    [waiting] = await stored(hotline, SmsMessage, SmsMessage.id == message_id)
    assert waiting.status == "queued"
    delivered = expect_report(hotline, message_id, "delivered")
    await kannel.start()
    async with phone(hotline.settings) as handset:
        text = await wait(handset.next_text(), 20, "the message was not delivered after Kannel came back")
        await wait(delivered, 10, "no delivery report")
        await handset.nothing_more(3)
    assert text == "【12345热线】您的工单已办结，感谢您的支持。"
    [sent] = await stored(hotline, SmsMessage, SmsMessage.id == message_id)
    assert sent.status == "delivered" and sent.attempts >= 2


async def test_a_crashed_bearerbox_is_started_again_and_sms_flow_again(hotline: Hotline) -> None:
    kannel = hotline.app[keys.KANNEL]
    restarted = expect_start(kannel)
    os.kill(kannel.boxes["bearerbox"].pid, signal.SIGKILL)
    await wait(restarted, 20, "Kannel was not started again")
    async with aiohttp.ClientSession() as session, session.get(f"{hotline.web_url}/healthz") as response:
        health = (await response.json())["sms"]
    assert health["kannel"]["running"] and health["kannel"]["restarts"] == 1 and health["ok"]
    async with phone(hotline.settings) as handset:
        await queue(hotline, "【12345热线】短信通道已恢复。", "survey:again")
        assert await wait(handset.next_text(), 20, "no SMS after the restart") == "【12345热线】短信通道已恢复。"
