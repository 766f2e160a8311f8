"""Work orders in the database."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.engine import upsert_insert
from ivr.db.models import OrderCall, WorkOrder
from routing import lifecycle

OPEN_STATUSES = tuple(sorted(lifecycle.OPEN))


def order_number(order_id: int, now: datetime, zone: ZoneInfo) -> str:
    """The centre's local date and the id: readable, unique, and digits only so it can be keyed on a phone."""
    return f"{now.astimezone(zone):%Y%m%d}{order_id:06d}"


class WorkOrderStore:
    def __init__(self, engine: AsyncEngine, timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.zone = ZoneInfo(timezone)
        self._insert = upsert_insert(engine)
        # Built once (the values go as parameters): it runs for every call's greeting, and building it was
        # most of the look-up's CPU with 200 calls in bench/call_load.py.
        self._latest_open = (
            select(WorkOrder)
            .where(WorkOrder.caller_number == bindparam("number"), WorkOrder.status.in_(OPEN_STATUSES),
                   WorkOrder.created_at >= bindparam("since"))
            .order_by(WorkOrder.id.desc())
            .limit(1)
        )

    async def latest_open(self, number: str, since: datetime) -> WorkOrder | None:
        """The caller's newest order still open (a draft or an open order) created since `since`."""
        async with self.engine.connect() as connection:
            row = (await connection.execute(self._latest_open, {"number": number, "since": since})).first()
        return WorkOrder(**row._asdict()) if row else None

    async def for_number(self, number: str, limit: int) -> list[WorkOrder]:
        query = select(WorkOrder).where(WorkOrder.caller_number == number).order_by(WorkOrder.id.desc()).limit(limit)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [WorkOrder(**row._asdict()) for row in rows]

    async def for_call(self, uniqueid: str) -> WorkOrder | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                select(WorkOrder).join(OrderCall, OrderCall.order_id == WorkOrder.id)
                .where(OrderCall.call_uniqueid == uniqueid).order_by(WorkOrder.id.desc()).limit(1))).first()
        return WorkOrder(**row._asdict()) if row else None
