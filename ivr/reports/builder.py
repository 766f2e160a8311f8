"""Makes a report of any period: the figures of the period and of the one before it, per type, topic,
department, term and day. Every figure is a sum from ivr/reports/queries.py; rates and scores come from routing."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict
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
from ivr.reports.service import call_figures_in, hot_terms_in
from ivr.settings import Settings
from ivr.surveys.results import rates
from routing.assessment import ranks, ratio, score
from routing.hot_topics import is_surge
from routing.lifecycle import TYPES
from routing.report_periods import ReportPeriod


class ReportMaker:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    async def make(self, period: ReportPeriod, now: datetime | None = None) -> Report:
        previous = period.previous()
        start, end = _utc(period.start), _utc(period.end)
        before = _utc(previous.start)
        async with self.engine.connect() as connection:
            calls = await call_figures_in(connection, self.settings, start, end)
            previous_calls = await call_figures_in(connection, self.settings, before, start)
            orders = await self._orders(connection, start, end)
            previous_orders = await self._orders(connection, before, start)
            by_type = await self._by_type(connection, start, end, before)
            by_topic = await self._by_topic(connection, start, end, before)
            departments = await queries.department_counts(connection, start, end)
            terms = await hot_terms_in(connection, self.settings, start, end, before)
            days = await self._days(connection, period)
        satisfaction = await rates(self.engine, start, end)
        return Report(
            period=_period(period), previous=_period(previous),
            generated_at=(now or datetime.now(UTC)).astimezone(ZoneInfo(period.timezone)).isoformat(timespec="seconds"),
            calls=calls, previous_calls=previous_calls,
            orders=_figures(orders, satisfaction["overall"]), previous_orders=_figures(
                previous_orders, (await rates(self.engine, before, start))["overall"]),
            by_type=by_type, by_topic=by_topic, departments=_assessed(departments, satisfaction["departments"]),
            hot_terms=terms, days=days,
        )

    async def _orders(self, connection: AsyncConnection, start: datetime, end: datetime) -> dict[str, int]:
        return await queries.order_counts(connection, start, end, self.settings.routing.repeat_days)

    async def _by_type(self, connection: AsyncConnection, start: datetime, end: datetime,
                       before: datetime) -> list[TypeRow]:
        now, earlier = (await queries.orders_by_type(connection, start, end),
                        await queries.orders_by_type(connection, before, start))
        kinds = [kind for kind in TYPES if kind in now or kind in earlier]
        kinds += sorted(set(now) - set(TYPES))
        return [TypeRow(kind, TYPE_NAMES.get(kind, kind), *now.get(kind, (0, 0)), earlier.get(kind, (0, 0))[0])
                for kind in kinds]

    async def _by_topic(self, connection: AsyncConnection, start: datetime, end: datetime,
                        before: datetime) -> list[TopicRow]:
        now, earlier = (await queries.orders_by_topic(connection, start, end),
                        await queries.orders_by_topic(connection, before, start))
        options = self.settings.reports
        rows = []
        for code, (name, count) in now.items():
            previous = earlier.get(code, ("", 0))[1]
            rows.append(TopicRow(code, name if code else "（未分类）", count, previous,
                                 is_surge(count, previous, options.surge_factor, options.surge_min_count)))
        return sorted(rows, key=lambda row: (-row.received, row.code))

    async def _days(self, connection: AsyncConnection, period: ReportPeriod) -> list[DayRow]:
        start, end = _utc(period.start), _utc(period.end)
        zone = ZoneInfo(period.timezone)
        calls = _by_local_day(await queries.calls_by_hour(connection, start, end), zone)
        orders = _by_local_day(await queries.orders_by_hour(connection, start, end), zone)
        return [DayRow(day.isoformat(), *calls.get(day, (0, 0)), *orders.get(day, (0, 0))) for day in period.days]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _period(period: ReportPeriod) -> Period:
    return Period(period.kind, period.start.isoformat(), period.end.isoformat(), period.label, period.title)


def _by_local_day(hours: Mapping[datetime, tuple[int, int]], zone: ZoneInfo) -> dict[date, tuple[int, int]]:
    days: defaultdict[date, Counter[int]] = defaultdict(Counter)
    for hour, pair in hours.items():
        days[hour.astimezone(zone).date()].update(dict(enumerate(pair)))
    return {day: (counts[0], counts[1]) for day, counts in days.items()}


def _figures(counts: Mapping[str, int], satisfaction: Mapping[str, Any]) -> OrderFigures:
    distinct = counts["received"] - counts["merged"]
    return OrderFigures(
        received=counts["received"], merged=counts["merged"],
        completed=counts["completed"], completion_rate=ratio(counts["completed"], distinct),
        on_time=counts["on_time"], on_time_rate=ratio(counts["on_time"], counts["completed"]),
        visited=satisfaction["answered"], satisfied=satisfaction["satisfied"],
        satisfaction_rate=ratio(satisfaction["satisfied"], satisfaction["answered"]),
        first_call_eligible=counts["first_call_eligible"], first_call_resolved=counts["first_call_resolved"],
        first_call_resolution_rate=ratio(counts["first_call_resolved"], counts["first_call_eligible"]),
        dispatched=counts["dispatched"], returned=counts["returned"],
        return_rate=ratio(counts["returned"], counts["dispatched"]),
        reopened=counts["reopened"], repeat_requests=counts["repeat_requests"],
        repeat_rate=ratio(counts["repeat_requests"], counts["received"]), overdue=counts["overdue"],
    )


def _assessed(departments: list[dict[str, Any]], satisfaction: list[dict[str, Any]]) -> list[DepartmentRow]:
    visits = {rate["key"]: rate for rate in satisfaction}
    rows = []
    for counts in departments:
        visit = visits.get(counts["code"], {"answered": 0, "satisfied": 0})
        on_time, returned = ratio(counts["replied_on_time"], counts["replied"]), ratio(counts["returned"],
                                                                                      counts["dispatched"])
        happy = ratio(visit["satisfied"], visit["answered"])
        rows.append(DepartmentRow(**counts, on_time_rate=on_time, return_rate=returned, visited=visit["answered"],
                                  satisfied=visit["satisfied"], satisfaction_rate=happy,
                                  score=score(on_time, happy, returned), rank=0))
    ranked = ranks([row.score for row in rows])
    rows = [DepartmentRow(**{**asdict(row), "rank": rank}) for row, rank in zip(rows, ranked, strict=True)]
    return sorted(rows, key=lambda row: (row.rank, row.code))
