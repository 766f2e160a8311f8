"""The reports' figures added up by the database: one pass over a period's rows per table, grouped in SQL.

A monthly report reads ~500,000 calls and ~250,000 orders out of tens of millions (docs/benchmarks.md): every
query here filters on an indexed time column and returns sums, never the rows (on PostgreSQL a period's orders are
read from ix_work_orders_period alone, which carries the columns summed). The definitions are those of
routing.kpi (calls) and docs/reports.md (orders); periods are [start, end) in UTC.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from ivr.db.models import Call, CatalogueEntry, Department, OrderDepartment, OrderEvent, Survey, WorkOrder
from ivr.surveys.results import counted
from routing.kpi import CallCounts
from routing.lifecycle import DISCARDED, DRAFT, MERGED, OPEN
from routing.survey import SATISFIED

NOT_COUNTED = (DRAFT, DISCARDED)  # not requests (yet): a draft becomes one when accepted
FIRST_CALL_TYPES = ("consultation", "help")  # the types an agent may close at intake


def _one(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows meet the condition (COUNT … FILTER: cheaper per row than a SUM of CASE)."""
    return func.count().filter(condition)


# The start of a UTC hour: the bins of date_bin (PostgreSQL 14) are counted from it.
_AN_HOUR = datetime(2000, 1, 1, tzinfo=UTC)


def _utc_hour(connection: AsyncConnection, column: Any) -> ColumnElement[Any]:
    """The UTC hour a moment falls in, as the database can group by it (local days are folded from hours).
    PostgreSQL bins the moment by arithmetic (date_bin), where date_trunc of the moment AT TIME ZONE 'UTC'
    converted each one through the time zone first (a third of calls_by_hour's time)."""
    if connection.dialect.name == "postgresql":
        return func.date_bin(text("interval '1 hour'"), column, literal(_AN_HOUR, column.type))
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _hour_of(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC)


async def _summing(connection: AsyncConnection) -> None:
    """For the rest of the transaction (PostgreSQL), plan these statements as sums over a period's rows:

    * without JIT compilation, which cost more than it saved (0.1–0.2 s a statement on 10 million orders, and
      up to 1 s over the three processes of a parallel one);
    * each for its own period (a custom plan): asyncpg prepares the statements, and after five runs PostgreSQL
      would keep a generic plan, which guesses a period at 0.5 % of the table and so neither reads it in
      parallel nor joins it by hashing (a month's sums took up to twice as long; docs/benchmarks.md)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT set_config('jit', 'off', true), "
                                      "set_config('plan_cache_mode', 'force_custom_plan', true)"))


# Calls


def _call_sums(service_level_seconds: float, short_abandon_seconds: float) -> list[ColumnElement[Any]]:
    wait = func.coalesce(Call.wait_seconds, 0)
    answered, abandoned = Call.outcome == "answered", Call.outcome == "abandoned"
    return [
        _one(Call.outcome != "refused"),
        _one(answered),
        _one(and_(answered, wait <= service_level_seconds)),
        _one(abandoned),
        _one(and_(abandoned, wait <= short_abandon_seconds)),
        _one(Call.outcome == "timed_out"),
        _one(Call.outcome == "callback_requested"),
        _one(Call.outcome == "voicemail"),
        _one(Call.outcome == "hung_up_before_queue"),
        _one(and_(Call.outcome != "refused", Call.wait_seconds.is_not(None))),
        func.coalesce(func.sum(case((Call.outcome != "refused", Call.wait_seconds), else_=None)), 0.0),
        func.coalesce(func.sum(case((answered, func.coalesce(Call.talk_seconds, 0)), else_=None)), 0.0),
    ]


def _finished_between(start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [Call.started_at >= start, Call.started_at < end, Call.ended_at.is_not(None)]


_COUNTED = ("offered", "answered", "answered_within_service_level", "abandoned", "abandoned_short", "timed_out",
            "callback_requested", "voicemail", "hung_up_before_queue", "waited")


def _counts(row: Sequence[Any], ratings: tuple[tuple[str, int], ...] = ()) -> CallCounts:
    ints = {name: int(value) for name, value in zip(_COUNTED, row, strict=False)}
    return CallCounts(**ints, wait_seconds=float(row[10]), talk_seconds=float(row[11]), ratings=ratings)


async def call_counts(connection: AsyncConnection, start: datetime, end: datetime, service_level_seconds: float,
                      short_abandon_seconds: float) -> CallCounts:
    """routing.kpi.count_calls over the calls that started in [start, end) and have ended, in SQL.

    One pass: the sums are grouped by the rating of answered calls (a group per rating, one for every other
    call), so the groups' sizes are the ratings and the groups' sums add up to the totals."""
    await _summing(connection)
    rated = case((and_(Call.outcome == "answered", Call.rating.is_not(None)), Call.rating), else_=None)
    query = (select(rated, func.count(), *_call_sums(service_level_seconds, short_abandon_seconds))
             .where(*_finished_between(start, end)).group_by(rated))
    rows = (await connection.execute(query)).all()
    sums = [sum(row[index] for row in rows) for index in range(2, 2 + len(_COUNTED) + 2)]
    ratings = sorted((str(row[0]), int(row[1])) for row in rows if row[0] is not None)
    return _counts(sums, tuple(ratings))


async def calls_by_hour(connection: AsyncConnection, start: datetime, end: datetime) -> dict[datetime, tuple[int, int]]:
    """Offered and answered calls per UTC hour (the trend per local day is folded from these)."""
    await _summing(connection)
    hour = _utc_hour(connection, Call.started_at)
    query = (select(hour, _one(Call.outcome != "refused"), _one(Call.outcome == "answered"))
             .where(*_finished_between(start, end)).group_by(hour))
    return {_hour_of(at): (int(offered), int(answered)) for at, offered, answered in await connection.execute(query)}


# Orders


def _received_between(start: datetime, end: datetime, order: Any = WorkOrder) -> list[ColumnElement[bool]]:
    return [order.created_at >= start, order.created_at < end, order.status.not_in(NOT_COUNTED)]


def _completed_by(end: datetime) -> ColumnElement[bool]:
    return and_(WorkOrder.status != MERGED, WorkOrder.closed_at.is_not(None), WorkOrder.closed_at < end)


def _repeats(repeat_days: int) -> ColumnElement[bool]:
    """An earlier order from the same number on the same topic within repeat_days (a merged one counts anyway)."""
    earlier = aliased(WorkOrder)
    window = func.julianday(WorkOrder.created_at) - func.julianday(earlier.created_at)
    return or_(WorkOrder.status == MERGED, exists().where(
        earlier.caller_number == WorkOrder.caller_number, earlier.topic == WorkOrder.topic,
        earlier.id != WorkOrder.id, earlier.created_at < WorkOrder.created_at,
        earlier.status.not_in(NOT_COUNTED), window <= repeat_days))


def _repeats_postgresql(repeat_days: int, start: datetime, end: datetime) -> ColumnElement[bool]:
    """_repeats, as one set for the period: the received orders that have an earlier one, found by a hash
    semi-join of the period's orders with those of the period and the repeat_days before it (read once each),
    where the EXISTS per order probed each caller's whole history (14 s for a month of 10 million orders).
    The bounds on `earlier` follow from the others (earlier < order < end, earlier ≥ order − days ≥ start − days)
    and let the planner read that window as a whole."""
    order, earlier = aliased(WorkOrder), aliased(WorkOrder)
    days = func.make_interval(0, 0, 0, repeat_days)
    repeated = select(order.id).where(*_received_between(start, end, order), exists().where(
        earlier.caller_number == order.caller_number, earlier.topic == order.topic,
        earlier.id != order.id, earlier.created_at < order.created_at,
        earlier.created_at >= order.created_at - days, earlier.status.not_in(NOT_COUNTED),
        earlier.created_at >= literal(start, WorkOrder.created_at.type) - days, earlier.created_at < end))
    return or_(WorkOrder.status == MERGED, WorkOrder.id.in_(repeated))


@dataclass(frozen=True)
class OrderSums:
    """The order sums of a period: in total, per type and per catalogue topic ("" for none), from one pass."""

    total: dict[str, int]
    by_type: dict[str, tuple[int, int]]  # received, completed
    by_topic: dict[str, int]  # received


async def order_counts(connection: AsyncConnection, start: datetime, end: datetime, repeat_days: int) -> OrderSums:
    """The order sums of docs/reports.md over the orders received in [start, end), judged at `end`: summed per
    type and topic in one statement (the groups add up to the totals), with the period's reopened and overdue."""
    await _summing(connection)
    completed = _completed_by(end)
    repeats = (_repeats_postgresql(repeat_days, start, end) if connection.dialect.name == "postgresql"
               else _repeats(repeat_days))
    eligible = and_(WorkOrder.source == "phone", WorkOrder.type.in_(FIRST_CALL_TYPES))
    sums = {
        "received": func.count(),
        "merged": _one(WorkOrder.status == MERGED),
        "completed": _one(completed),
        "on_time": _one(and_(completed, or_(WorkOrder.due_at.is_(None), WorkOrder.closed_at <= WorkOrder.due_at))),
        "first_call_eligible": _one(eligible),
        "first_call_resolved": _one(and_(eligible, completed, WorkOrder.dispatched_at.is_(None))),
        "dispatched": _one(WorkOrder.dispatched_at.is_not(None)),
        "returned": _one(WorkOrder.returns > 0),
        "repeat_requests": _one(repeats),
    }
    topic = func.coalesce(WorkOrder.topic, "")
    query = select(WorkOrder.type, topic, *sums.values()).where(*_received_between(start, end)) \
        .group_by(WorkOrder.type, topic)
    total: Counter[str] = Counter({name: 0 for name in sums})
    by_type: defaultdict[str, Counter[str]] = defaultdict(Counter)
    by_topic: Counter[str] = Counter()
    for kind, code, *values in await connection.execute(query):
        group = {name: int(value) for name, value in zip(sums, values, strict=True)}
        total.update(group)
        by_type[kind].update({"received": group["received"], "completed": group["completed"]})
        by_topic[code] += group["received"]
    figures = dict(total) | {"reopened": await _reopened(connection, start, end),
                             "overdue": await _overdue(connection, start, end)}
    return OrderSums(figures, {kind: (counts["received"], counts["completed"]) for kind, counts in by_type.items()},
                     dict(by_topic))


async def topic_names(connection: AsyncConnection) -> dict[str, str]:
    return {code: topic for code, topic in await connection.execute(select(CatalogueEntry.code, CatalogueEntry.topic))}


async def visit_counts(connection: AsyncConnection, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """Return-visit answers counted in the satisfaction rate (ivr.surveys.results.counted), answered and
    satisfied, per lead department's code ("" for an order without one), in one statement."""
    satisfied = _one(Survey.rating.in_(SATISFIED))
    code = func.coalesce(Department.code, "")
    query = (select(code, func.count(), satisfied).select_from(Survey)
             .join(WorkOrder, WorkOrder.id == Survey.order_id)
             .outerjoin(Department, Department.id == WorkOrder.lead_department_id)
             .where(*counted(start, end)).group_by(code))
    return {department: (int(answered), int(happy)) for department, answered, happy in await connection.execute(query)}


async def _reopened(connection: AsyncConnection, start: datetime, end: datetime) -> int:
    query = select(func.count(func.distinct(OrderEvent.order_id))).where(
        OrderEvent.action == "rehandle", OrderEvent.at >= start, OrderEvent.at < end)
    return int((await connection.execute(query)).scalar_one())


async def _overdue(connection: AsyncConnection, start: datetime, end: datetime) -> int:
    """Orders whose deadline fell in the period and that were not closed by it."""
    query = select(func.count()).select_from(WorkOrder).where(
        WorkOrder.due_at >= start, WorkOrder.due_at < end, WorkOrder.status.not_in((*NOT_COUNTED, MERGED)),
        or_(WorkOrder.closed_at.is_(None), WorkOrder.closed_at > WorkOrder.due_at))
    return int((await connection.execute(query)).scalar_one())


async def orders_by_type(connection: AsyncConnection, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """Received and completed per order type."""
    await _summing(connection)
    query = (select(WorkOrder.type, func.count(), _one(_completed_by(end)))
             .where(*_received_between(start, end)).group_by(WorkOrder.type))
    return {kind: (int(received), int(done)) for kind, received, done in await connection.execute(query)}


async def orders_by_hour(connection: AsyncConnection, start: datetime,
                         end: datetime) -> dict[datetime, tuple[int, int]]:
    """Received and (by the period's end) completed orders per UTC hour of receipt."""
    await _summing(connection)
    hour = _utc_hour(connection, WorkOrder.created_at)
    query = (select(hour, func.count(), _one(_completed_by(end)))
             .where(*_received_between(start, end)).group_by(hour))
    return {_hour_of(at): (int(received), int(done)) for at, received, done in await connection.execute(query)}


async def department_counts(connection: AsyncConnection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per lead department, the orders dispatched to it in the period and what it made of them by the end.

    A lead row taken off without a reply is a return (退单) or a re-dispatch (改派) away from it."""
    await _summing(connection)
    replied = and_(OrderDepartment.replied_at.is_not(None), OrderDepartment.replied_at < end)
    returned = and_(OrderDepartment.done == true(), OrderDepartment.replied_at.is_(None))
    late = or_(OrderDepartment.replied_at.is_(None), OrderDepartment.replied_at > OrderDepartment.due_at)
    query = (select(Department.code, Department.name, func.count(), _one(replied),
                    _one(and_(replied, or_(OrderDepartment.due_at.is_(None),
                                           OrderDepartment.replied_at <= OrderDepartment.due_at))),
                    _one(returned),
                    _one(and_(~returned, OrderDepartment.due_at < end, late)))
             .select_from(OrderDepartment).join(Department, Department.id == OrderDepartment.department_id)
             .where(OrderDepartment.role == "lead", OrderDepartment.dispatched_at >= start,
                    OrderDepartment.dispatched_at < end)
             .group_by(Department.code, Department.name).order_by(Department.code))
    names = ("code", "name", "dispatched", "replied", "replied_on_time", "returned", "overdue")
    return [dict(zip(names, row, strict=True)) for row in await connection.execute(query)]


async def live_order_counts(connection: AsyncConnection, start: datetime, now: datetime) -> dict[str, Any]:
    """Today's orders by type and the open orders past their deadline now (the wallboard)."""
    by_type = Counter({kind: received for kind, (received, _) in
                       (await orders_by_type(connection, start, now)).items()})
    overdue = select(func.count()).select_from(WorkOrder).where(
        WorkOrder.status.in_(sorted(OPEN - {DRAFT})), WorkOrder.due_at < now)
    return {"received": sum(by_type.values()), "by_type": dict(by_type),
            "overdue": int((await connection.execute(overdue)).scalar_one())}


async def term_counts(connection: AsyncConnection, start: datetime, end: datetime) -> Counter[str]:
    """How many orders received in the period name each term (work_orders.terms, filled by the term indexer)."""
    await _summing(connection)
    where = [*_received_between(start, end), WorkOrder.terms.is_not(None), WorkOrder.terms != ""]
    if connection.dialect.name == "postgresql":
        term = func.unnest(func.string_to_array(WorkOrder.terms, " ")).label("term")
        terms = select(term).where(*where).subquery()
        rows = await connection.execute(select(terms.c.term, func.count()).group_by(terms.c.term))
        return Counter({name: int(count) for name, count in rows})
    counted: Counter[str] = Counter()
    for (written,) in await connection.execute(select(WorkOrder.terms).where(*where)):
        counted.update((written or "").split(" "))
    return counted
