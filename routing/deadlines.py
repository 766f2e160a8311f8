"""Work-order deadlines in China's working days, and the 督办 ladder that runs from them.

Working time is counted in whole calendar days that are working days: statutory holidays are off and
make-up working days (调休, a Saturday or Sunday worked in exchange) are on, from the `chinese-calendar`
package's tables. A deadline of N working days from a moment is the moment when N working days' worth
of time has passed on working days only: dispatched on Monday 10:00 with 3 days, due Thursday 10:00;
dispatched on a Saturday, the count starts on Monday 00:00. Zero days (an emergency) is the end of the
same local day. Periods when the clock is paused (a return under review) do not count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorkCalendar:
    """The official table where the package has one; beyond it (the State Council publishes next year's
    holidays in the autumn, the package follows later) the days the settings list, else Monday to Friday,
    and `estimated` says so, so that a deadline in such a year can be shown as provisional."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # make-up working days (调休) on a weekend

    def __call__(self, day: date) -> bool:
        if day in self.holidays or day in self.workdays:
            return day in self.workdays
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return day.weekday() < 5

    def estimated(self, day: date) -> bool:
        try:
            chinese_calendar.is_workday(day)
        except NotImplementedError:
            return day not in self.holidays and day not in self.workdays
        return False


official_workday = WorkCalendar()


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime


def deadline(start: datetime, working_days: int, timezone: str, pauses: Sequence[Pause] = (),
             is_workday: Callable[[date], bool] = official_workday) -> datetime:
    """When `working_days` of working time from `start` have passed (aware datetimes, any zone)."""
    zone = ZoneInfo(timezone)
    local = start.astimezone(zone)
    if working_days == 0:
        return datetime.combine(local.date() + DAY, time(), zone)
    return add_working_time(local, timedelta(days=working_days), timezone, pauses, is_workday)


def add_working_time(start: datetime, amount: timedelta, timezone: str, pauses: Sequence[Pause] = (),
                     is_workday: Callable[[date], bool] = official_workday) -> datetime:
    """The moment when `amount` of working time has passed after `start` (pauses not counting)."""
    zone = ZoneInfo(timezone)
    remaining, cursor = amount, start.astimezone(zone)
    while True:
        day_end = datetime.combine(cursor.date() + DAY, time(), zone)
        if is_workday(cursor.date()):
            usable = (day_end - cursor) - _paused_within(cursor, day_end, pauses)
            if usable >= remaining:
                return _advance(cursor, remaining, day_end, pauses)
            remaining -= usable
        cursor = day_end


def _paused_within(start: datetime, end: datetime, pauses: Sequence[Pause]) -> timedelta:
    total = timedelta()
    for pause in pauses:
        overlap = min(end, pause.end) - max(start, pause.start)
        if overlap > timedelta():
            total += overlap
    return total


def _advance(cursor: datetime, remaining: timedelta, day_end: datetime, pauses: Sequence[Pause]) -> datetime:
    """Within one working day: step over the pauses until `remaining` working time has passed."""
    for pause in sorted(pauses, key=lambda p: p.start):
        if pause.end <= cursor or pause.start >= day_end:
            continue
        before = pause.start - cursor
        if before >= remaining:
            break
        if before > timedelta():
            remaining -= before
        cursor = max(cursor, pause.end)
    return cursor + remaining


def working_time_within(pause: Pause, timezone: str,
                        is_workday: Callable[[date], bool] = official_workday) -> timedelta:
    """How much working time a period took (a return under review moves the deadline by this much)."""
    zone = ZoneInfo(timezone)
    total, cursor = timedelta(), pause.start.astimezone(zone)
    while cursor < pause.end:
        next_day = datetime.combine(cursor.date() + DAY, time(), zone)
        if is_workday(cursor.date()):
            total += min(next_day, pause.end) - cursor
        cursor = next_day
    return total


def working_days_between(start: datetime, end: datetime, timezone: str,
                         is_workday: Callable[[date], bool] = official_workday) -> float:
    """Working time from `start` to `end`, in days (negative when `end` is earlier): how late or early."""
    if end < start:
        return -working_days_between(end, start, timezone, is_workday)
    zone = ZoneInfo(timezone)
    cursor, total = start.astimezone(zone), timedelta()
    while cursor < end:
        day_end = min(datetime.combine(cursor.date() + DAY, time(), zone), end)
        if is_workday(cursor.date()):
            total += day_end - cursor
        cursor = day_end
    return total / DAY


@dataclass(frozen=True)
class SupervisionStep:
    """One rung of the 督办 ladder: `offset_days` working days from the deadline (negative: before it)."""

    name: str  # warning 预警, reminder 催办, notice 催办通知书, public 通报, escalation 升级
    offset_days: int
    recipient: str  # a role: department_staff, department_admin, supervisor, city_office


DEFAULT_LADDER = (
    SupervisionStep("warning", -1, "department_staff"),
    SupervisionStep("reminder", 0, "department_admin"),
    SupervisionStep("notice", 1, "department_admin"),
    SupervisionStep("public", 5, "supervisor"),
    SupervisionStep("escalation", 10, "city_office"),
)


def ladder(due: datetime, timezone: str, steps: Sequence[SupervisionStep] = DEFAULT_LADDER,
           is_workday: Callable[[date], bool] = official_workday) -> list[tuple[SupervisionStep, datetime]]:
    """When each step falls due: steps after the deadline count working days from it, the warning before
    it counts back (a warning one working day before a Monday deadline comes on the Friday)."""
    timed = []
    for step in steps:
        if step.offset_days >= 0:
            timed.append((step, deadline(due, step.offset_days, timezone, is_workday=is_workday)
                          if step.offset_days else due))
        else:
            timed.append((step, _back(due, -step.offset_days, timezone, is_workday)))
    return timed


def _back(due: datetime, working_days: int, timezone: str, is_workday: Callable[[date], bool]) -> datetime:
    """The moment `working_days` of working time before `due`."""
    zone = ZoneInfo(timezone)
    remaining, cursor = timedelta(days=working_days), due.astimezone(zone)
    while True:
        day_start = datetime.combine(cursor.date() if cursor.time() != time() else cursor.date() - DAY, time(), zone)
        if is_workday(day_start.date()):
            usable = cursor - day_start
            if usable >= remaining:
                return cursor - remaining
            remaining -= usable
        cursor = day_start


def due_steps(due: datetime, now: datetime, done: set[str], timezone: str,
              steps: Sequence[SupervisionStep] = DEFAULT_LADDER,
              is_workday: Callable[[date], bool] = official_workday) -> list[SupervisionStep]:
    """The steps whose time has come and that have not been sent yet, in order (for the durable scheduler)."""
    return [step for step, at in ladder(due, timezone, steps, is_workday) if at <= now and step.name not in done]
