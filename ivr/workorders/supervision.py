"""督办: the durable scheduler that sends each step of the ladder (warning → reminder → reminder notice →
public notice → escalation) to its recipient when it falls due.

Durable because its state is the database: a step sent is a SupervisionEvent row, unique per department on the
order, step and handling round, so a restart (or two servers) sends nothing twice and catches up on what fell
due while it was down. The clock stops while an order is returned (under review) or replied (with the centre).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import OrderDepartment, OrderEvent, SupervisionEvent, WorkOrder, as_utc
from routing import lifecycle
from routing.deadlines import DEFAULT_LADDER, SupervisionStep, WorkCalendar, due_steps

logger = logging.getLogger(__name__)
RUNNING_STATES = (lifecycle.DISPATCHED, lifecycle.SIGNED)


class SupervisionScheduler:
    def __init__(self, engine: AsyncEngine, timezone: str, calendar: WorkCalendar,
                 steps: tuple[SupervisionStep, ...] = DEFAULT_LADDER) -> None:
        self.engine = engine
        self.timezone = timezone
        self.calendar = calendar
        self.steps = steps

    async def run(self, interval: float) -> None:
        while True:
            try:
                sent = await self.run_once(datetime.now(UTC))
                if sent:
                    logger.info("督办: %d step(s) sent", sent)
            except (SQLAlchemyError, OSError) as exc:  # the database is away: try again next round
                logger.warning("督办 round skipped: %s", exc)
            await asyncio.sleep(interval)

    async def run_once(self, now: datetime) -> int:
        """Sends every step now due on every running order; returns how many were sent."""
        async with self.engine.connect() as connection:
            running = (await connection.execute(
                select(OrderDepartment.id, OrderDepartment.order_id, OrderDepartment.due_at,
                       OrderDepartment.dispatched_at, OrderDepartment.department_id)
                .join(WorkOrder, WorkOrder.id == OrderDepartment.order_id)
                .where(OrderDepartment.done.is_(False), OrderDepartment.due_at.is_not(None),
                       WorkOrder.status.in_(RUNNING_STATES), OrderDepartment.due_at <= _horizon(now)))).all()
            sent_rows = (await connection.execute(
                select(SupervisionEvent.order_department_id, SupervisionEvent.step, SupervisionEvent.round)
                .where(SupervisionEvent.order_department_id.in_([row.id for row in running])))).all() \
                if running else []
        sent: dict[tuple[int, int], set[str]] = {}
        for department_id, step_name, handling_round in sent_rows:
            sent.setdefault((department_id, handling_round), set()).add(step_name)
        count = 0
        for row in running:
            handling_round = handling_round_of(row.dispatched_at)
            done = sent.get((row.id, handling_round), set())
            for step in due_steps(as_utc(row.due_at), now, done, self.timezone, self.steps, self.calendar):
                count += await self._send(row, step, handling_round, now)
        return count

    async def _send(self, row: Any, step: SupervisionStep, handling_round: int, now: datetime) -> int:
        try:
            async with self.engine.begin() as connection:
                await connection.execute(insert(SupervisionEvent).values(
                    order_department_id=row.id, order_id=row.order_id, step=step.name, round=handling_round,
                    recipient=step.recipient, due_at=row.due_at, sent_at=now))
                await connection.execute(insert(OrderEvent).values(
                    order_id=row.order_id, at=now, actor="system", role="system", action="supervise",
                    department_id=row.department_id, note=step.name))
        except IntegrityError:  # another scheduler sent it first
            return 0
        return 1


def handling_round_of(dispatched_at: datetime) -> int:
    """A handling round is known by when it began: re-handling (重办) dispatches again and starts a new one."""
    return int(as_utc(dispatched_at).timestamp())


def _horizon(now: datetime) -> datetime:
    """Orders due this soon may have a warning due: one working day before, which a long holiday (the Spring
    Festival: 8 days off) can put over a week before the deadline."""
    return now + timedelta(days=15)
