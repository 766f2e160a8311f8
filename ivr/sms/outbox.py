"""The SMS outbox: a message to send is a row first, in the same transaction as whatever decided to send it, so
nothing is lost when Kannel or the server is away; the dedup key makes each message once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ivr.db.engine import upsert_insert
from ivr.db.models import SmsMessage
from ivr.sms import delivery
from routing.sms_text import split


async def enqueue(connection: AsyncConnection, *, number: str, text: str, purpose: str, dedup_key: str,
                  now: datetime, survey_id: int | None = None, order_id: int | None = None) -> None:
    """Queue one message (nothing happens if its dedup key was queued before)."""
    statement = upsert_insert(connection.engine)(SmsMessage).values(
        direction=delivery.OUT, number=number, text=text, status=delivery.QUEUED, purpose=purpose, dedup_key=dedup_key,
        survey_id=survey_id, order_id=order_id, attempts=0, next_at=now, parts=len(split(text).parts),
        created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["dedup_key"])
    await connection.execute(statement)
