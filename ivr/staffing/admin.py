"""`hotline staffing [--date D]`: a day's staffing plan per half hour, as the supervisors' page has it."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.engine import with_store
from ivr.settings import Settings
from ivr.staffing.service import Forecast, forecast
from ivr.workorders.service import calendar_of
from routing.staffing import SlotPlan

Command = Callable[[Any, str, str, Callable[[Settings, argparse.Namespace], int]], argparse.ArgumentParser]
HEADER = (f"  {'slot':<6} {'calls':>7} {'AHT s':>7} {'erlangs':>8} {'agents':>7} {'rota':>5} {'SL':>7} "
          f"{'ASA s':>7} {'occupancy':>9}")


def register(commands: Any, command: Command) -> None:
    staffing = command(commands, "staffing", "a day's staffing plan per half hour: the calls expected from past days "
                       "of the same kind, the agents Erlang C needs on the phones for the service-level target and "
                       "on the rota with shrinkage (docs/staffing.md)", cmd_staffing)
    staffing.add_argument("--date", type=_date, default=None, metavar="YYYY-MM-DD", help="the day (default today)")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date such as 2026-10-08") from None


def cmd_staffing(settings: Settings, arguments: argparse.Namespace, out: TextIO | None = None) -> int:
    day = arguments.date or datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()

    async def read(engine: AsyncEngine) -> Forecast:
        return await forecast(engine, settings, calendar_of(settings.workorders), day)

    print(table(asyncio.run(with_store(settings.database, lambda engine: engine, read)), settings), file=out)
    return 0


def table(plan: Forecast, settings: Settings) -> str:
    """The plan as `hotline staffing` prints it: what it rests on, then a line per half hour."""
    kind = "working day" if plan.workday else "day off"
    lines = [f"staffing plan for {plan.day} ({kind}), from {plan.days_measured} past day(s) of the same kind; "
             f"target {settings.reports.service_level_target:.0%} answered within "
             f"{settings.queue.service_level_seconds} s, shrinkage {settings.reports.shrinkage:.0%}", HEADER]
    lines.extend(_row(slot) for slot in plan.slots)
    return "\n".join(lines)


def _row(slot: SlotPlan) -> str:
    figures = slot.staffing
    return (f"  {slot.start:%H:%M}  {slot.calls:>7.1f} {slot.handle_seconds:>7.0f} {figures.traffic:>8.2f} "
            f"{figures.agents:>7} {figures.scheduled:>5} {figures.service_level:>7.1%} {figures.asa_seconds:>7.1f} "
            f"{figures.occupancy:>9.1%}")
