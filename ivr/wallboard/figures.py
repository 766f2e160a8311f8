"""The wallboard's figures from the database: today's calls, orders and hot terms, and the agents the staffing
plan asks for in the current half hour. "Today" is the centre's local day (setting `timezone`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.reports import queries
from ivr.reports.service import call_figures_in, hot_terms_in
from ivr.settings import Settings
from ivr.staffing.service import staffing_plan
from ivr.wallboard.snapshot import DayFigures
from routing.staffing import SlotPlan, slot_of


class DayReader:
    """Reads the figures on demand; the staffing plan (four weeks of calls behind it) once a day."""

    def __init__(self, engine: AsyncEngine, settings: Settings, is_workday: Callable[[date], bool]) -> None:
        self.engine = engine
        self.settings = settings
        self.is_workday = is_workday
        self.zone = ZoneInfo(settings.timezone)
        self._plan: tuple[date, list[SlotPlan]] | None = None

    async def __call__(self, now: datetime) -> DayFigures:
        local = now.astimezone(self.zone)
        midnight = datetime.combine(local.date(), time(), self.zone).astimezone(UTC)
        end = now.astimezone(UTC)
        async with self.engine.connect() as connection:
            calls = await call_figures_in(connection, self.settings, midnight, end)
            orders = await queries.live_order_counts(connection, midnight, end)
            # today so far against the same length of time before it
            terms = await hot_terms_in(connection, self.settings, midnight, end, midnight - (end - midnight))
        slot = slot_of(local)
        planned = next((p for p in await self._day_plan(local.date()) if p.start == slot), None)
        return DayFigures(read_at=now, calls=calls, orders=orders, hot_terms=[asdict(term) for term in terms],
                          needed_now=planned.staffing.agents if planned else None, slot=slot.strftime("%H:%M"))

    async def _day_plan(self, day: date) -> list[SlotPlan]:
        if self._plan is None or self._plan[0] != day:
            self._plan = (day, await staffing_plan(self.engine, self.settings, self.is_workday, day))
        return self._plan[1]
