"""Which order a caller may hear, and the trace their query leaves on it.

By the calling number alone the caller hears their newest order, unless it is confidential or a 举报
(report): whoever holds the phone is not necessarily who filed those, so they are read only to a caller who
keys in the order number and calls from the number on the order. An order filed under another number is
never read, and "not found" sounds the same whether the order does not exist or is someone else's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from ivr.intake.context import CallContext
from ivr.progress.speech import OrderProgress
from ivr.workorders.actors import Actor

T = TypeVar("T")

CITIZEN_BY_PHONE = Actor("phone", "citizen")
# A number that identifies a line: not "unknown", "anonymous" or empty (withheld numbers would share orders).
IDENTIFYING_NUMBER = re.compile(r"\+?\d{3,}")


class QueryUnavailable(Exception):
    """The orders could not be read in time (database slow or away); the caller is told and goes to an agent."""


async def latest_order(ctx: CallContext, caller: str) -> OrderProgress | None:
    if not IDENTIFYING_NUMBER.fullmatch(caller):
        return None
    queries = ctx.services.order_queries
    rows = await _timed(ctx, queries.history(caller, limit=1) if queries else None)
    return _progress(rows[0]) if rows and not _protected(rows[0]) else None


async def order_of_caller(ctx: CallContext, number: str, caller: str) -> OrderProgress | None:
    """The order with this number if it was filed from the calling number; None otherwise."""
    if not IDENTIFYING_NUMBER.fullmatch(caller):
        return None
    orders = ctx.services.orders
    order = await _timed(ctx, orders.find(number) if orders else None)
    return _progress(order) if order is not None and order.caller_number == caller else None


async def record_query(ctx: CallContext, order: OrderProgress, uniqueid: str) -> None:
    orders = ctx.services.orders
    await _timed(ctx, orders.record(order.id, CITIZEN_BY_PHONE, "progress_query", datetime.now(UTC), uniqueid)
                 if orders else None)


async def _timed(ctx: CallContext, work: Awaitable[T] | None) -> T:
    """The caller waits on a silent line meanwhile: as long as the greeting's look-up may take, no longer."""
    if work is None:
        raise QueryUnavailable("no work-order database")
    try:
        async with asyncio.timeout(ctx.settings.fastagi.lookup_timeout):
            return await work
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        raise QueryUnavailable(type(exc).__name__) from exc


def _protected(row: Any) -> bool:
    return bool(row.confidential) or row.type == "report"


def _progress(row: Any) -> OrderProgress:
    return OrderProgress(row.id, row.number or "", row.status, row.due_at)
