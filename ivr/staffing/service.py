"""Staffing from the call records: a day's plan by half hour (routing.staffing) and the live figures beside it.

The calls of the past `reports.staffing_weeks` weeks' days of the same kind as the day (working day or day
off) are counted in SQL by quarter hour of UTC, one row per quarter, and folded into local half hours here:
every time zone's offset is a whole number of quarter hours, so a UTC quarter lies inside one local half hour.
The calls table is never read row by row: a month of a busy centre's calls costs a few indexed range scans.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.ami.queue_state import ON_A_CALL, QueueState
from ivr.db.models import Call
from ivr.settings import Settings
from routing.staffing import Bucket, SlotPlan, measures, plan, slot_of

QUARTER_SECONDS = 900
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Forecast:
    day: date
    workday: bool
    days_measured: int  # past days of the same kind that had calls: the plan's evidence
    slots: list[SlotPlan]


@dataclass(frozen=True)
class LiveAgents:
    logged_in: int  # seats with an agent logged in
    available: int  # free and not paused: the next call rings them
    on_calls: int
    paused: int
    waiting: int  # callers in the queues
    stale: bool  # the queue state is being re-read after an AMI reconnect


@dataclass(frozen=True)
class NowFigures:
    slot: time
    agents: LiveAgents
    calls: int  # offered in the current half hour so far
    expected_calls: float  # in the whole half hour, by the plan
    agents_needed: int  # on the phones, by the plan
    scheduled_needed: int  # on the rota, with shrinkage

    @property
    def short_by(self) -> int:
        """Agents the plan wants on the phones beyond those logged in and not paused."""
        return max(0, self.agents_needed - (self.agents.logged_in - self.agents.paused))


async def staffing_plan(engine: AsyncEngine, settings: Settings, is_workday: Callable[[date], bool],
                        day: date) -> list[SlotPlan]:
    """The agents each half hour of `day` needs, from the past days of its kind."""
    return (await forecast(engine, settings, is_workday, day)).slots


async def forecast(engine: AsyncEngine, settings: Settings, is_workday: Callable[[date], bool],
                   day: date) -> Forecast:
    """`staffing_plan` with what it rests on: the kind of day and how many past days were measured."""
    days = same_kind_days(day, settings.reports.staffing_weeks, is_workday)
    buckets = await _buckets(engine, days, ZoneInfo(settings.timezone))
    folded = measures(buckets, set(days), settings.queue.wrapup_seconds)
    slots = plan(folded, settings.queue.service_level_seconds, settings.reports.service_level_target,
                 settings.reports.shrinkage, settings.queue.default_handle_seconds)
    return Forecast(day, is_workday(day), folded[0].days, slots)


def same_kind_days(day: date, weeks: int, is_workday: Callable[[date], bool]) -> list[date]:
    """The days of the `weeks` weeks before `day` that are working days if it is one, days off if not."""
    kind = is_workday(day)
    return [past for past in (day - offset * DAY for offset in range(7 * weeks, 0, -1)) if is_workday(past) == kind]


async def _buckets(engine: AsyncEngine, days: Sequence[date], zone: ZoneInfo) -> list[Bucket]:
    if not days:
        return []
    quarter = _quarter(engine).label("quarter")
    answered = Call.outcome == "answered"
    calls = (select(quarter, answered.label("answered"), Call.talk_seconds)
             .where(or_(*_ranges(days, zone)), Call.outcome != "refused").subquery())
    query = select(calls.c.quarter, func.count(), func.sum(case((calls.c.answered, 1), else_=0)),
                   func.sum(case((calls.c.answered, func.coalesce(calls.c.talk_seconds, 0.0)), else_=0.0)),
                   ).group_by(calls.c.quarter)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [Bucket(datetime.fromtimestamp(int(row[0]) * QUARTER_SECONDS, UTC).astimezone(zone),
                   int(row[1]), int(row[2] or 0), float(row[3] or 0.0)) for row in rows]


def _quarter(engine: AsyncEngine) -> ColumnElement[int]:
    """The call's start as a count of quarter hours since 1970 (UTC)."""
    if engine.dialect.name == "postgresql":
        # floor first: a bigint cast rounds, and 899.6 s is still the first quarter.
        seconds = cast(func.floor(func.extract("epoch", Call.started_at)), BigInteger)
    else:  # SQLite keeps the UTC time as text; strftime('%s') reads it as seconds since 1970
        seconds = cast(func.strftime("%s", Call.started_at), Integer)
    return seconds // QUARTER_SECONDS


def _ranges(days: Sequence[date], zone: ZoneInfo) -> list[ColumnElement[bool]]:
    """One started_at range per run of consecutive days (a working week is one range, not five)."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] + DAY == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return [and_(Call.started_at >= _utc_midnight(run[0], zone), Call.started_at < _utc_midnight(run[-1] + DAY, zone))
            for run in runs]


def _utc_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


# Now


def live_agents(state: QueueState, seat_queue: str) -> LiveAgents:
    """From the AMI's queue state: every logged-in seat is a member of the seat queue once."""
    members = list(state.queues[seat_queue].members.values()) if seat_queue in state.queues else []
    return LiveAgents(
        logged_in=len(members),
        available=sum(member.available for member in members),
        on_calls=sum(member.status in ON_A_CALL for member in members),
        paused=sum(member.paused for member in members),
        waiting=sum(len(view.waiting) for view in state.queues.values()),
        stale=state.stale,
    )


async def now_figures(engine: AsyncEngine, settings: Settings, state: QueueState, today: Sequence[SlotPlan],
                      now: datetime) -> NowFigures:
    """The current half hour: the live agents and calls beside what today's plan wants for it."""
    local = now.astimezone(ZoneInfo(settings.timezone))
    slot = slot_of(local)
    planned = next(plan for plan in today if plan.start == slot)
    started = datetime.combine(local.date(), slot, local.tzinfo)
    return NowFigures(slot, live_agents(state, settings.direct_queue), await calls_since(engine, started, now),
                      planned.calls, planned.staffing.agents, planned.staffing.scheduled)


async def calls_since(engine: AsyncEngine, start: datetime, end: datetime) -> int:
    """Calls offered (refused numbers aside) that started from `start` to before `end`."""
    query = select(func.count()).where(Call.started_at >= start.astimezone(UTC), Call.started_at < end.astimezone(UTC),
                                       Call.outcome != "refused")
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())
