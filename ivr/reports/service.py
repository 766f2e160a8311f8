"""Reads the period's calls and agent events and hands them to routing.kpi."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.db.models import AgentEvent, Call, as_utc
from ivr.reports import queries
from ivr.reports.model import TermRow
from ivr.settings import Settings
from routing.hot_topics import trends
from routing.kpi import CallFacts, agent_times, call_kpis, kpis_of
from routing.seats import SeatEvent

SHORT_ABANDON_SECONDS = 5.0


# Calls our intake did not route (greeted by the dialplan fallback or the classic AGI script).
UNROUTED = "unrouted"


async def call_report(engine: AsyncEngine, settings: Settings, start: datetime, end: datetime) -> dict[str, Any]:
    calls = await _calls(engine, start, end)
    events = await _events(engine, start, end)
    wrapup = float(settings.queue.wrapup_seconds)
    kpis = call_kpis(calls, settings.queue.service_level_seconds, SHORT_ABANDON_SECONDS, wrapup)
    agents = agent_times(events, calls, start, end, wrapup)
    by_line: dict[str, list[CallFacts]] = defaultdict(list)
    for call in calls:
        by_line[call.line or UNROUTED].append(call)
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "definitions": {
            "service_level_seconds": settings.queue.service_level_seconds,
            "short_abandon_seconds": SHORT_ABANDON_SECONDS,
            "wrapup_seconds": wrapup,
        },
        "calls": asdict(kpis),
        "lines": {line: asdict(call_kpis(line_calls, settings.queue.service_level_seconds, SHORT_ABANDON_SECONDS,
                                         wrapup)) for line, line_calls in sorted(by_line.items())},
        "agents": {agent_id: asdict(times) for agent_id, times in sorted(agents.items())},
    }


def utc(moment: datetime) -> datetime:
    """SQLite compares the stored UTC wall time as text: every bound must be in UTC too."""
    return moment.astimezone(UTC)


async def _calls(engine: AsyncEngine, start: datetime, end: datetime) -> list[CallFacts]:
    query = select(Call).where(Call.started_at >= utc(start), Call.started_at < utc(end), Call.ended_at.is_not(None))
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [
        CallFacts(row.uniqueid, row.caller_number, as_utc(row.started_at), row.outcome, row.wait_seconds,
                  row.talk_seconds, row.agent, row.rating, row.line)
        for row in rows
    ]


async def _events(engine: AsyncEngine, start: datetime, end: datetime) -> list[SeatEvent]:
    """The period's events, and each agent's last one before it (a shift that began earlier)."""
    start, end = utc(start), utc(end)
    before = select(func.max(AgentEvent.id)).where(AgentEvent.at < start).group_by(AgentEvent.agent_id)
    query = (
        select(AgentEvent)
        .where(or_(AgentEvent.id.in_(before), (AgentEvent.at >= start) & (AgentEvent.at < end)))
        .order_by(AgentEvent.id)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [SeatEvent(row.agent_id, row.seat, row.kind, row.reason, as_utc(row.at)) for row in rows]



# What the wallboard and the reports read: sums from the database (ivr/reports/queries.py).


async def call_figures(engine: AsyncEngine, settings: Settings, start: datetime, end: datetime) -> dict[str, Any]:
    """The call KPIs of [start, end) (routing.kpi.CallKpis as JSON, without the list of abandoned calls)."""
    async with engine.connect() as connection:
        return await call_figures_in(connection, settings, utc(start), utc(end))


async def call_figures_in(connection: AsyncConnection, settings: Settings, start: datetime,
                          end: datetime) -> dict[str, Any]:
    counts = await queries.call_counts(connection, start, end, settings.queue.service_level_seconds,
                                       SHORT_ABANDON_SECONDS)
    figures = asdict(kpis_of(counts, float(settings.queue.wrapup_seconds)))
    figures.pop("abandoned_calls")
    return figures


async def hot_terms_in(connection: AsyncConnection, settings: Settings, start: datetime, end: datetime,
                       before: datetime) -> list[TermRow]:
    """The top terms of [start, end) against [before, start) (UTC bounds)."""
    current = await queries.term_counts(connection, start, end)
    return term_rows(settings, current, await queries.term_counts(connection, before, start))


def term_rows(settings: Settings, current: Mapping[str, int], previous: Mapping[str, int]) -> list[TermRow]:
    """The top terms of a period against the period before, surges flagged (routing.hot_topics)."""
    options = settings.reports
    return [TermRow(trend.term, trend.count, trend.previous, trend.surge)
            for trend in trends(current, previous, options.surge_factor, options.surge_min_count, options.hot_terms)]
