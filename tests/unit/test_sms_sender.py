"""The SMS sender's state changes against a fake Kannel sendsms (an aiohttp server), on SQLite and PostgreSQL:
sent on 202 with the delivery report asked for; back to the queue with a growing wait while Kannel is away, then
sent once; failed on a 4xx with Kannel's words; unknown when Kannel does not answer (never sent again); a crash's
"sending" rows marked unknown at start; a delivery report that comes before the sender marks it sent; woken by
`wake` rather than the poll."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import SmsMessage, as_utc
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.sms import delivery
from ivr.sms.kannel import MAX_PARTS
from ivr.sms.outbox import enqueue
from ivr.sms.sender import Attempt, SmsSender
from ivr.sms.store import SmsStore
from routing.sms_text import split

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SECRETS = Secrets("", {}, "", sms_password="send-pw", sms_token="kannel-token")
NOTICE = "【12345热线】您反映的问题（工单20261125000001）已办结，请评价。"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeKannel:
    """sendsms on loopback: answers each request with the next (status, text), records the queries."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.queries: list[dict[str, str]] = []
        self.answers: list[tuple[int, str]] = []
        self.hold = asyncio.Event()  # while not set, a request marked "hold" gets no answer
        self.runner: web.AppRunner | None = None

    async def sendsms(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        status, text = self.answers.pop(0) if self.answers else (202, "0: Accepted for delivery")
        if text == "hold":
            await self.hold.wait()
        return web.Response(status=status, text=text)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/sendsms", self.sendsms)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.hold.set()
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
def sms_settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path)
    sms = dataclasses.replace(settings.sms, sendsms_port=free_port(), retry_seconds=30, retry_max_seconds=120,
                              http_timeout=0.5, poll_seconds=60, send_interval=0.01)
    return dataclasses.replace(settings, sms=sms)


@pytest.fixture
async def kannel(sms_settings: Settings) -> AsyncIterator[FakeKannel]:
    fake = FakeKannel(sms_settings.sms.sendsms_port)
    await fake.start()
    yield fake
    await fake.stop()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def queue(engine: AsyncEngine, key: str, text: str = NOTICE, number: str = "13800138000") -> None:
    async with engine.begin() as connection:
        await enqueue(connection, number=number, text=text, purpose="survey", dedup_key=key, now=NOW)


async def message(store: SmsStore, message_id: int = 1) -> SmsMessage:
    found = await store.get(message_id)
    assert found is not None
    return found


def due(row: SmsMessage) -> datetime:
    assert row.next_at is not None
    return as_utc(row.next_at)


def sender_for(settings: Settings, engine: AsyncEngine, clock: Callable[[], datetime]) -> SmsSender:
    return SmsSender(settings, SECRETS, SmsStore(engine), clock)


async def test_a_queued_chinese_message_is_handed_to_kannel_with_a_delivery_report_asked_for(
        engine: AsyncEngine, sms_settings: Settings, kannel: FakeKannel) -> None:
    clock = Clock()
    sender = sender_for(sms_settings, engine, clock)
    await queue(engine, "survey:1")
    async with aiohttp.ClientSession() as session:
        attempt = await sender.send_one(session)
        assert await sender.send_one(session) is None, "nothing else is due"
    assert attempt is not None and attempt.outcome == delivery.SENT
    [query] = kannel.queries
    assert {key: query[key] for key in ("username", "password", "to", "from", "text", "charset", "coding")} == {
        "username": "hotline", "password": "send-pw", "to": "13800138000", "from": "12345", "text": NOTICE,
        "charset": "UTF-8", "coding": "2"}
    assert query["dlr-mask"] == "31"
    assert query["dlr-url"] == ("http://127.0.0.1:8080/api/sms/dlr?token=kannel-token&id=1&status=%d&answer=%A")
    row = await message(sender.store)
    assert (row.status, row.attempts, row.error) == ("sent", 1, None) and row.sent_at is not None


async def test_plain_text_goes_without_ucs2_and_a_plus_stays_a_plus(
        engine: AsyncEngine, sms_settings: Settings, kannel: FakeKannel) -> None:
    sender = sender_for(dataclasses.replace(sms_settings, sms=dataclasses.replace(sms_settings.sms, dlr=False)),
                        engine, Clock())
    await queue(engine, "ack:1", text="Order 1+1 & 100% done")
    async with aiohttp.ClientSession() as session:
        await sender.send_one(session)
    [query] = kannel.queries
    assert query["text"] == "Order 1+1 & 100% done" and "coding" not in query and "dlr-url" not in query


async def test_kannel_away_puts_the_message_back_with_a_growing_wait_then_it_is_sent_once(
        engine: AsyncEngine, sms_settings: Settings) -> None:
    clock = Clock()
    sender = sender_for(sms_settings, engine, clock)
    await queue(engine, "survey:1")
    async with aiohttp.ClientSession() as session:
        first = await sender.send_one(session)
        assert first is not None and first.outcome == delivery.RETRY and "Kannel not reached" in first.detail
        row = await message(sender.store)
        assert (row.status, row.attempts, due(row)) == ("queued", 1, NOW + timedelta(seconds=30))
        assert await sender.send_one(session) is None, "not due before its wait is over"
        clock.now = NOW + timedelta(seconds=30)
        second = await sender.send_one(session)
        assert second is not None and second.outcome == delivery.RETRY
        assert due(await message(sender.store)) == NOW + timedelta(seconds=30 + 60), "twice the first wait"
        fake = FakeKannel(sms_settings.sms.sendsms_port)
        await fake.start()
        try:
            clock.now = NOW + timedelta(seconds=90)
            third = await sender.send_one(session)
            assert await sender.send_one(session) is None
        finally:
            await fake.stop()
    assert third is not None and third.outcome == delivery.SENT and len(fake.queries) == 1
    row = await message(sender.store)
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)


@pytest.mark.parametrize(("status", "text", "outcome"), [
    (403, "Authorization failed for sendsms", "failed"),
    (400, "Missing receiver number, rejected", "failed"),
    (503, "Temporal failure, try again later.", "queued"),
])
async def test_kannels_refusal_fails_the_message_with_its_words_and_a_temporary_failure_retries(
        engine: AsyncEngine, sms_settings: Settings, kannel: FakeKannel, status: int, text: str,
        outcome: str) -> None:
    sender = sender_for(sms_settings, engine, Clock())
    await queue(engine, "survey:1")
    kannel.answers.append((status, text))
    async with aiohttp.ClientSession() as session:
        await sender.send_one(session)
    row = await message(sender.store)
    assert row.status == outcome and row.error is not None and f"Kannel {status}: {text}" in row.error


async def test_no_answer_once_the_request_went_out_is_unknown_and_never_sent_again(
        engine: AsyncEngine, sms_settings: Settings, kannel: FakeKannel) -> None:
    clock = Clock()
    sender = sender_for(sms_settings, engine, clock)
    await queue(engine, "survey:1")
    kannel.answers.append((202, "hold"))
    timeout = aiohttp.ClientTimeout(connect=0.5, sock_read=0.5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        attempt = await sender.send_one(session)
        clock.now = NOW + timedelta(days=1)
        assert await sender.send_one(session) is None
    assert attempt is not None and attempt.outcome == delivery.UNKNOWN and "not sent again" in attempt.detail
    assert (await message(sender.store)).status == "unknown" and len(kannel.queries) == 1


async def test_rows_a_crash_left_sending_become_unknown_at_start_and_are_not_resent(
        engine: AsyncEngine, sms_settings: Settings, kannel: FakeKannel) -> None:
    store = SmsStore(engine)
    await queue(engine, "survey:1")
    await queue(engine, "survey:2")
    claimed = await store.claim(NOW)
    assert claimed is not None and claimed.id == 1 and claimed.attempts == 1  # then the server died
    sender = sender_for(sms_settings, engine, Clock())
    sent: list[Attempt] = []
    done = asyncio.Event()

    def seen(attempt: Attempt) -> None:
        sent.append(attempt)
        done.set()

    sender.listeners.append(seen)
    task = asyncio.create_task(sender.run())
    try:
        async with asyncio.timeout(5):
            await done.wait()
    finally:
        await sender.stop(task)
    assert [(attempt.message_id, attempt.outcome) for attempt in sent] == [(2, "sent")]
    first = await message(store, 1)
    assert (first.status, first.attempts) == ("unknown", 1) and "not sent again" in (first.error or "")
    assert [query["text"] for query in kannel.queries] == [NOTICE]


async def test_a_delivery_report_before_the_sender_marks_it_sent_is_kept(engine: AsyncEngine) -> None:
    store = SmsStore(engine)
    await queue(engine, "survey:1")
    claimed = await store.claim(NOW)
    assert claimed is not None
    assert await store.report(1, delivery.DLR_DELIVERED, "", NOW) == "delivered"
    assert not await store.settle(1, delivery.SENT, NOW + timedelta(seconds=1))
    assert await store.report(1, delivery.DLR_SMSC_SUBMIT, "ACK/", NOW) == "delivered", "a late smsc-submit"
    row = await message(store)
    assert (row.status, row.dlr) == ("delivered", "smsc-submit ACK/") and row.sent_at is not None
    assert await store.report(1, delivery.DLR_FAILED, "", NOW) == "failed", "a failed part fails the whole"
    assert await store.report(99, delivery.DLR_DELIVERED, "", NOW) is None


async def test_wake_sends_at_once_without_waiting_for_the_poll(
        engine: AsyncEngine, sms_settings: Settings, kannel: FakeKannel) -> None:
    sender = sender_for(sms_settings, engine, lambda: datetime.now(UTC))
    outcomes: asyncio.Queue[Attempt] = asyncio.Queue()
    sender.listeners.append(outcomes.put_nowait)
    task = asyncio.create_task(sender.run())
    try:
        for index in range(2):
            async with engine.begin() as connection:
                await enqueue(connection, number="13800138000", text=NOTICE, purpose="ack", dedup_key=f"ack:{index}",
                              now=datetime.now(UTC))
            sender.wake()
            async with asyncio.timeout(5):  # the poll is a minute
                attempt = await outcomes.get()
            assert (attempt.message_id, attempt.outcome) == (index + 1, "sent")
    finally:
        await sender.stop(task)
    assert len(kannel.queries) == 2


async def test_a_message_longer_than_kannel_sends_fails_without_being_sent(
        engine: AsyncEngine, sms_settings: Settings, kannel: FakeKannel) -> None:
    sender = sender_for(sms_settings, engine, Clock())
    text = "很长" * 400
    await queue(engine, "survey:1", text=text)
    async with aiohttp.ClientSession() as session:
        attempt = await sender.send_one(session)
    parts = len(split(text).parts)
    assert parts > MAX_PARTS
    assert attempt is not None and attempt.outcome == "failed" and f"{parts} parts" in attempt.detail
    assert kannel.queries == []


async def test_kannel_back_sends_the_messages_waiting_to_be_tried_again_at_once(
        engine: AsyncEngine, sms_settings: Settings) -> None:
    sender = sender_for(sms_settings, engine, lambda: datetime.now(UTC))
    outcomes: asyncio.Queue[Attempt] = asyncio.Queue()
    sender.listeners.append(outcomes.put_nowait)
    task = asyncio.create_task(sender.run())
    fake = FakeKannel(sms_settings.sms.sendsms_port)
    try:
        async with engine.begin() as connection:
            await enqueue(connection, number="13800138000", text=NOTICE, purpose="ack", dedup_key="ack:1",
                          now=datetime.now(UTC))
        sender.wake()
        async with asyncio.timeout(5):
            refused = await outcomes.get()
        assert (refused.outcome, refused.retry_in) == ("retry", 30), "Kannel is not there: tried again in 30 s"
        await fake.start()
        sender.kannel_back()
        async with asyncio.timeout(5):
            sent = await outcomes.get()
        assert (sent.message_id, sent.outcome) == (1, "sent")
    finally:
        await sender.stop(task)
        await fake.stop()
    assert len(fake.queries) == 1
