"""SMS in the database (the sms_messages table): outgoing messages claimed, settled and reported on by
conditional updates (from the status they were read in), so none is handed to Kannel twice; incoming messages
stored before they are handled, once per Kannel id, and handled in the same transaction as the order or the
reply they lead to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.db.engine import upsert_insert
from ivr.db.models import SmsMessage, as_utc
from ivr.sms import delivery
from ivr.sms.outbox import enqueue
from ivr.workorders.actors import SYSTEM, Actor
from ivr.workorders.service import insert_order
from routing import lifecycle

SMS_ACTOR = Actor("sms", SYSTEM)  # who the SMS channel writes into an order's history
CLAIM_TRIES = 8  # rows one claim looks at (taken meanwhile) before it gives up until the next round


@dataclass(frozen=True)
class Outgoing:
    id: int
    number: str
    text: str
    purpose: str
    attempts: int  # counting this one
    parts: int


@dataclass(frozen=True)
class Reply:
    """An SMS to queue with a step that handles an incoming one."""

    number: str
    text: str
    purpose: str
    dedup_key: str
    survey_id: int | None = None
    order_id: int | None = None


@dataclass(frozen=True)
class Kept:
    """An incoming SMS as stored: new, or the one a retried delivery from Kannel finds."""

    id: int
    status: str
    number: str
    text: str
    survey_id: int | None
    order_id: int | None


class SmsStore:
    def __init__(self, engine: AsyncEngine, timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.zone = ZoneInfo(timezone)
        self._insert = upsert_insert(engine)
        self.reported: list[Callable[[int, str], None]] = []  # (message id, status) after each delivery report

    # Outgoing

    async def claim(self, now: datetime) -> Outgoing | None:
        """The oldest message due, now sending with its attempt counted (before Kannel is asked: a crash in
        between leaves it sending, and the next start marks it unknown rather than sending it again)."""
        query = (select(SmsMessage.id, SmsMessage.attempts, SmsMessage.number, SmsMessage.text, SmsMessage.purpose,
                        SmsMessage.parts)
                 .where(SmsMessage.direction == delivery.OUT, SmsMessage.status == delivery.QUEUED,
                        SmsMessage.next_at <= now)
                 .order_by(SmsMessage.next_at, SmsMessage.id).limit(1))
        async with self.engine.begin() as connection:
            for _ in range(CLAIM_TRIES):
                row = (await connection.execute(query)).first()
                if row is None:
                    return None
                claimed = await connection.execute(
                    update(SmsMessage).where(SmsMessage.id == row.id, SmsMessage.status == delivery.QUEUED,
                                             SmsMessage.attempts == row.attempts)
                    .values(status=delivery.SENDING, attempts=row.attempts + 1, updated_at=now))
                if claimed.rowcount == 1:
                    return Outgoing(row.id, row.number, row.text, row.purpose, row.attempts + 1, row.parts)
        return None

    async def settle(self, message_id: int, outcome: str, now: datetime, error: str | None = None,
                     next_at: datetime | None = None) -> bool:
        """The attempt's outcome (sent, retry, failed, unknown) on a message still sending. A delivery report that
        came first (Kannel reports at once) has moved it on already: then only sent_at is written."""
        values: dict[str, Any] = {"updated_at": now, "error": error}
        if outcome == delivery.SENT:
            values |= {"status": delivery.SENT, "sent_at": now}
        elif outcome == delivery.RETRY:
            values |= {"status": delivery.QUEUED, "next_at": next_at}
        else:
            values["status"] = outcome
        async with self.engine.begin() as connection:
            moved = await connection.execute(
                update(SmsMessage).where(SmsMessage.id == message_id, SmsMessage.status == delivery.SENDING)
                .values(**values))
            if moved.rowcount == 0 and outcome == delivery.SENT:
                await connection.execute(
                    update(SmsMessage).where(SmsMessage.id == message_id, SmsMessage.sent_at.is_(None))
                    .values(sent_at=now))
        return bool(moved.rowcount == 1)

    async def recover(self, now: datetime) -> list[int]:
        """Messages a stopped server left sending: Kannel may have taken them, so they become unknown (shown,
        never sent again blindly). Returns their ids."""
        async with self.engine.begin() as connection:
            ids = list((await connection.execute(
                select(SmsMessage.id).where(SmsMessage.direction == delivery.OUT,
                                            SmsMessage.status == delivery.SENDING))).scalars())
            if ids:
                await connection.execute(
                    update(SmsMessage).where(SmsMessage.id.in_(ids), SmsMessage.status == delivery.SENDING)
                    .values(status=delivery.UNKNOWN, updated_at=now,
                            error="the server stopped while handing it to Kannel: not sent again"))
        return [int(found) for found in ids]

    async def due_now(self, now: datetime) -> int:
        """Every queued message due now (Kannel is back: those waiting to be tried again need not wait)."""
        async with self.engine.begin() as connection:
            moved = await connection.execute(
                update(SmsMessage).where(SmsMessage.direction == delivery.OUT, SmsMessage.status == delivery.QUEUED,
                                         SmsMessage.next_at > now)
                .values(next_at=now))
        return int(moved.rowcount)

    async def next_due(self) -> datetime | None:
        async with self.engine.connect() as connection:
            found = (await connection.execute(
                select(func.min(SmsMessage.next_at)).where(SmsMessage.direction == delivery.OUT,
                                                           SmsMessage.status == delivery.QUEUED))).scalar()
        return as_utc(found) if found is not None else None

    async def report(self, message_id: int, report: int, answer: str, now: datetime) -> str | None:
        """A delivery report: the message's status afterwards, None if there is no such outgoing message."""
        dlr = f"{delivery.DLR_NAMES.get(report, str(report))} {answer}".strip()[:64]
        async with self.engine.begin() as connection:
            for _ in range(CLAIM_TRIES):
                status = (await connection.execute(
                    select(SmsMessage.status).where(SmsMessage.id == message_id,
                                                    SmsMessage.direction == delivery.OUT))).scalar()
                if status is None:
                    return None
                after = delivery.after_report(status, report)
                moved = await connection.execute(
                    update(SmsMessage).where(SmsMessage.id == message_id, SmsMessage.status == status)
                    .values(status=after, dlr=dlr, updated_at=now))
                if moved.rowcount == 1:
                    break
            else:
                return None
        for listener in self.reported:
            listener(message_id, after)
        return after

    async def counts(self) -> dict[str, int]:
        """Outgoing messages by status."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(SmsMessage.status, func.count()).where(SmsMessage.direction == delivery.OUT)
                .group_by(SmsMessage.status))).all()
        return {str(status): int(count) for status, count in rows}

    async def get(self, message_id: int) -> SmsMessage | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(SmsMessage).where(SmsMessage.id == message_id))).first()
        return SmsMessage(**row._asdict()) if row else None

    # Incoming

    async def keep(self, kannel_id: str, number: str, text: str, now: datetime, status: str = delivery.RECEIVED,
                   error: str | None = None) -> Kept:
        """The incoming SMS stored (once per Kannel id: a delivery Kannel retries finds the first one)."""
        dedup_key = f"in:{kannel_id}"
        async with self.engine.begin() as connection:
            await connection.execute(self._insert(SmsMessage).values(
                direction=delivery.IN, number=number[:32], text=text, status=status, purpose="in",
                dedup_key=dedup_key, attempts=0, parts=1, error=error, created_at=now, updated_at=now,
            ).on_conflict_do_nothing(index_elements=["dedup_key"]))
            row = (await connection.execute(select(SmsMessage).where(SmsMessage.dedup_key == dedup_key))).one()
        return _kept(row)

    async def kept(self, message_id: int) -> Kept:
        async with self.engine.connect() as connection:
            return _kept((await connection.execute(select(SmsMessage).where(SmsMessage.id == message_id))).one())

    async def waiting(self) -> list[Kept]:
        """Incoming messages stored but not handled (the server stopped in between)."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(SmsMessage).where(SmsMessage.direction == delivery.IN, SmsMessage.status == delivery.RECEIVED)
                .order_by(SmsMessage.id))).all()
        return [_kept(row) for row in rows]

    async def matched(self, message_id: int, survey_id: int, now: datetime) -> None:
        """The survey a reply answers, noted before the answer is stored (handled again, it answers the same)."""
        async with self.engine.begin() as connection:
            await connection.execute(update(SmsMessage).where(SmsMessage.id == message_id)
                                     .values(survey_id=survey_id, updated_at=now))

    async def handled(self, message_id: int, purpose: str, now: datetime, status: str = delivery.HANDLED,
                      error: str | None = None, reply: Reply | None = None) -> bool:
        """received → handled (or rejected), and the reply queued, in one transaction; False if it was handled
        already."""
        async with self.engine.begin() as connection:
            moved = await self._handle_in(connection, message_id, now, status=status, purpose=purpose,
                                          error=error[:500] if error else None)
            if moved and reply is not None:
                await _queue(connection, reply, now)
        return moved

    async def open_order(self, message_id: int, number: str, text: str, now: datetime,
                         acknowledgement: Callable[[int, str], Reply | None]) -> tuple[int, str] | None:
        """An SMS work order (a draft, source sms) with the message's text as sent, the message handled and the
        acknowledgement (made from the order's id and number) queued, in one transaction: (order id, order number),
        or None if the message was handled already."""
        async with self.engine.begin() as connection:
            if not await self._handle_in(connection, message_id, now, status=delivery.HANDLED, purpose="request"):
                return None
            order_id, readable = await insert_order(
                connection, {"status": lifecycle.DRAFT, "source": "sms", "caller_number": number, "content": text},
                SMS_ACTOR, now, self.zone, {"channel": "sms", "sms_id": message_id})
            await connection.execute(update(SmsMessage).where(SmsMessage.id == message_id).values(order_id=order_id))
            reply = acknowledgement(order_id, readable)
            if reply is not None:
                await _queue(connection, reply, now)
        return order_id, readable

    @staticmethod
    async def _handle_in(connection: AsyncConnection, message_id: int, now: datetime, **values: Any) -> bool:
        moved = await connection.execute(
            update(SmsMessage).where(SmsMessage.id == message_id, SmsMessage.direction == delivery.IN,
                                     SmsMessage.status == delivery.RECEIVED)
            .values(updated_at=now, **values))
        return bool(moved.rowcount == 1)


async def _queue(connection: AsyncConnection, reply: Reply, now: datetime) -> None:
    await enqueue(connection, number=reply.number, text=reply.text, purpose=reply.purpose, dedup_key=reply.dedup_key,
                  now=now, survey_id=reply.survey_id, order_id=reply.order_id)


def _kept(row: Any) -> Kept:
    return Kept(row.id, row.status, row.number, row.text, row.survey_id, row.order_id)
