"""Makes a report of any period: the figures of the period and of the one before it, per type, topic,
department, term and day. Every figure is a sum from ivr/reports/queries.py; rates and scores come from routing."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.reports import queries
from ivr.reports.labels import TYPE_NAMES
from ivr.reports.model import (
    DayRow,
    DepartmentRow,
    OrderFigures,
    Period,
    Report,
    TopicRow,
    TypeRow,
)
from ivr.reports.service import call_figures_in, term_rows, utc
from ivr.settings import Settings
from routing.assessment import ranks, ratio, score
from routing.hot_topics import is_surge
from routing.lifecycle import TYPES
from routing.report_periods import ReportPeriod


class ReportMaker:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    async def make(self, period: ReportPeriod, now: datetime | None = None) -> Report:
        """The period's sums and the previous period's are read on two connections at once: the database's
        serial statements (the hourly sums) then overlap with the parallel ones."""
        previous = period.previous()
        start, end = utc(period.start), utc(period.end)
        async with self.engine.connect() as first, self.engine.connect() as second:
            (current, days), (earlier, names, departments) = await asyncio.gather(
                self._current(first, period), self._previous(second, previous, start, end))
        return Report(
            period=_period(period), previous=_period(previous),
            generated_at=(now or datetime.now(UTC)).astimezone(ZoneInfo(period.timezone)).isoformat(timespec="seconds"),
            calls=current.calls, previous_calls=earlier.calls,
            orders=_figures(current.orders.total, current.visits),
            previous_orders=_figures(earlier.orders.total, earlier.visits),
            by_type=_by_type(current.orders, earlier.orders),
            by_topic=self._by_topic(current.orders, earlier.orders, names),
            departments=_assessed(departments, current.visits),
            hot_terms=term_rows(self.settings, current.terms, earlier.terms), days=days,
        )

    async def _sums(self, connection: AsyncConnection, start: datetime, end: datetime) -> _Sums:
        return _Sums(await call_figures_in(connection, self.settings, start, end),
                     await queries.order_counts(connection, start, end, self.settings.routing.repeat_days),
                     await queries.visit_counts(connection, start, end),
                     await queries.term_counts(connection, start, end))

    async def _current(self, connection: AsyncConnection, period: ReportPeriod) -> tuple[_Sums, list[DayRow]]:
        return await self._sums(connection, utc(period.start), utc(period.end)), await self._days(connection, period)

    async def _previous(self, connection: AsyncConnection, previous: ReportPeriod, start: datetime,
                        end: datetime) -> tuple[_Sums, dict[str, str], list[dict[str, Any]]]:
        """The previous period's sums, with the topics' names and the period's departments (to balance the two)."""
        return (await self._sums(connection, utc(previous.start), start), await queries.topic_names(connection),
                await queries.department_counts(connection, start, end))

    def _by_topic(self, orders: queries.OrderSums, earlier: queries.OrderSums,
                  names: Mapping[str, str]) -> list[TopicRow]:
        options = self.settings.reports
        rows = []
        for code, count in orders.by_topic.items():
            previous = earlier.by_topic.get(code, 0)
            rows.append(TopicRow(code, names.get(code, code) if code else "（未分类）", count, previous,
                                 is_surge(count, previous, options.surge_factor, options.surge_min_count)))
        return sorted(rows, key=lambda row: (-row.received, row.code))

    async def _days(self, connection: AsyncConnection, period: ReportPeriod) -> list[DayRow]:
        start, end = utc(period.start), utc(period.end)
        zone = ZoneInfo(period.timezone)
        calls = _by_local_day(await queries.calls_by_hour(connection, start, end), zone)
        orders = _by_local_day(await queries.orders_by_hour(connection, start, end), zone)
        return [DayRow(day.isoformat(), *calls.get(day, (0, 0)), *orders.get(day, (0, 0))) for day in period.days]


@dataclass(frozen=True)
class _Sums:
    calls: dict[str, Any]
    orders: queries.OrderSums
    visits: dict[str, tuple[int, int]]
    terms: Counter[str]


def _period(period: ReportPeriod) -> Period:
    return Period(period.kind, period.start.isoformat(), period.end.isoformat(), period.label, period.title)


def _by_local_day(hours: Mapping[datetime, tuple[int, int]], zone: ZoneInfo) -> dict[date, tuple[int, int]]:
    days: defaultdict[date, Counter[int]] = defaultdict(Counter)
    for hour, pair in hours.items():
        days[hour.astimezone(zone).date()].update(dict(enumerate(pair)))
    return {day: (counts[0], counts[1]) for day, counts in days.items()}


def _by_type(orders: queries.OrderSums, earlier: queries.OrderSums) -> list[TypeRow]:
    now, before = orders.by_type, earlier.by_type
    kinds = [kind for kind in TYPES if kind in now or kind in before] + sorted(set(now) - set(TYPES))
    return [TypeRow(kind, TYPE_NAMES.get(kind, kind), *now.get(kind, (0, 0)), before.get(kind, (0, 0))[0])
            for kind in kinds]


def _figures(counts: Mapping[str, int], visits: Mapping[str, tuple[int, int]]) -> OrderFigures:
    distinct = counts["received"] - counts["merged"]
    visited, satisfied = (sum(pair[index] for pair in visits.values()) for index in (0, 1))
    return OrderFigures(
        received=counts["received"], merged=counts["merged"],
        completed=counts["completed"], completion_rate=ratio(counts["completed"], distinct),
        on_time=counts["on_time"], on_time_rate=ratio(counts["on_time"], counts["completed"]),
        visited=visited, satisfied=satisfied, satisfaction_rate=ratio(satisfied, visited),
        first_call_eligible=counts["first_call_eligible"], first_call_resolved=counts["first_call_resolved"],
        first_call_resolution_rate=ratio(counts["first_call_resolved"], counts["first_call_eligible"]),
        dispatched=counts["dispatched"], returned=counts["returned"],
        return_rate=ratio(counts["returned"], counts["dispatched"]),
        reopened=counts["reopened"], repeat_requests=counts["repeat_requests"],
        repeat_rate=ratio(counts["repeat_requests"], counts["received"]), overdue=counts["overdue"],
    )


def _assessed(departments: list[dict[str, Any]], visits: Mapping[str, tuple[int, int]]) -> list[DepartmentRow]:
    rows = []
    for counts in departments:
        answered, satisfied = visits.get(counts["code"], (0, 0))
        on_time, returned = ratio(counts["replied_on_time"], counts["replied"]), ratio(counts["returned"],
                                                                                      counts["dispatched"])
        happy = ratio(satisfied, answered)
        rows.append(DepartmentRow(**counts, on_time_rate=on_time, return_rate=returned, visited=answered,
                                  satisfied=satisfied, satisfaction_rate=happy,
                                  score=score(on_time, happy, returned), rank=0))
    ranked = ranks([row.score for row in rows])
    rows = [DepartmentRow(**{**asdict(row), "rank": rank}) for row, rank in zip(rows, ranked, strict=True)]
    return sorted(rows, key=lambda row: (row.rank, row.code))
