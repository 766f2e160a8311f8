"""Work orders in the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.engine import upsert_insert
from ivr.db.models import WorkOrder


class WorkOrderStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = upsert_insert(engine)

    async def add_voicemail_draft(self, caller: str, uniqueid: str, audio_path: str, now: datetime) -> None:
        """One draft per call, however often the hang-up handler reports it."""
        statement = self._insert(WorkOrder).values(
            status="draft", source="voicemail", caller_number=caller, call_uniqueid=uniqueid,
            audio_path=audio_path, created_at=now,
        ).on_conflict_do_nothing(index_elements=["call_uniqueid"])
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    async def for_call(self, uniqueid: str) -> WorkOrder | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(WorkOrder).where(WorkOrder.call_uniqueid == uniqueid))).first()
        return WorkOrder(**row._asdict()) if row else None
