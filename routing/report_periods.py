"""Report periods in the centre's local time: a day, an ISO week (Monday to Sunday), a calendar month, or any
special range; each with the period it is compared with (the one just before)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAILY, WEEKLY, MONTHLY, SPECIAL = "daily", "weekly", "monthly", "special"
KIND_NAMES = {DAILY: "日报", WEEKLY: "周报", MONTHLY: "月报", SPECIAL: "专题报告"}
WEEK_LABEL = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH_LABEL = re.compile(r"^(\d{4})-(\d{2})$")


class BadPeriod(ValueError):
    """The period named cannot be read; the message shows the expected form."""


@dataclass(frozen=True)
class ReportPeriod:
    kind: str
    first_day: date
    last_day: date  # inclusive
    timezone: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), ZoneInfo(self.timezone))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(), ZoneInfo(self.timezone))

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    @property
    def label(self) -> str:
        if self.kind == DAILY:
            return self.first_day.isoformat()
        if self.kind == WEEKLY:
            year, week, _ = self.first_day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == MONTHLY:
            return self.first_day.strftime("%Y-%m")
        return f"{self.first_day.isoformat()}_{self.last_day.isoformat()}"

    @property
    def title(self) -> str:
        return f"12345热线{KIND_NAMES[self.kind]}（{self._span()}）"

    def _span(self) -> str:
        first, last = self.first_day, self.last_day
        if self.kind == DAILY:
            return f"{first.year}年{first.month}月{first.day}日"
        if self.kind == MONTHLY:
            return f"{first.year}年{first.month}月"
        span = f"{first.year}年{first.month}月{first.day}日—{last.year}年{last.month}月{last.day}日"
        if self.kind == WEEKLY:
            return f"{first.isocalendar()[0]}年第{first.isocalendar()[1]}周，{span}"
        return span

    def previous(self) -> ReportPeriod:
        """The period compared with: the day, week or month before; for a special range the same length before."""
        if self.kind == MONTHLY:
            return month(_month_before(self.first_day), self.timezone)
        length = self.last_day - self.first_day + timedelta(days=1)
        return ReportPeriod(self.kind, self.first_day - length, self.first_day - timedelta(days=1), self.timezone)


def day(when: date, timezone: str) -> ReportPeriod:
    return ReportPeriod(DAILY, when, when, timezone)


def week(when: date, timezone: str) -> ReportPeriod:
    monday = when - timedelta(days=when.weekday())
    return ReportPeriod(WEEKLY, monday, monday + timedelta(days=6), timezone)


def month(when: date, timezone: str) -> ReportPeriod:
    first = when.replace(day=1)
    return ReportPeriod(MONTHLY, first, _month_after(first) - timedelta(days=1), timezone)


def special(first: date, last: date, timezone: str) -> ReportPeriod:
    if last < first:
        raise BadPeriod(f"the range ends ({last}) before it starts ({first})")
    return ReportPeriod(SPECIAL, first, last, timezone)


def parse(kind: str, value: str, timezone: str) -> ReportPeriod:
    """daily 2026-10-05 · weekly 2026-W41 (or any day of it) · monthly 2026-10 · special 2026-10-01_2026-10-07."""
    try:
        if kind == DAILY:
            return day(date.fromisoformat(value), timezone)
        if kind == WEEKLY:
            found = WEEK_LABEL.match(value)
            when = date.fromisocalendar(int(found[1]), int(found[2]), 1) if found else date.fromisoformat(value)
            return week(when, timezone)
        if kind == MONTHLY:
            found = MONTH_LABEL.match(value)
            return month(date(int(found[1]), int(found[2]), 1) if found else date.fromisoformat(value), timezone)
        if kind == SPECIAL:
            first, _, last = value.partition("_")
            return special(date.fromisoformat(first), date.fromisoformat(last or first), timezone)
    except ValueError as exc:
        if isinstance(exc, BadPeriod):
            raise
        raise BadPeriod(f"{kind} period {value!r} not understood: expected {_FORMS[kind]}") from None
    raise BadPeriod(f"no report kind {kind!r}: expected one of {', '.join(KIND_NAMES)}")


_FORMS = {DAILY: "2026-10-05", WEEKLY: "2026-W41 or a day of the week", MONTHLY: "2026-10",
          SPECIAL: "2026-10-01_2026-10-07 (first and last day)"}


def last_complete(kind: str, today: date, timezone: str) -> ReportPeriod:
    """The latest period of this kind that is over by `today` (what the schedule makes)."""
    if kind == DAILY:
        return day(today - timedelta(days=1), timezone)
    if kind == WEEKLY:
        return week(today - timedelta(days=today.weekday() + 7), timezone)
    if kind == MONTHLY:
        return month(_month_before(today), timezone)
    raise BadPeriod(f"a {kind} report is not scheduled")


def _month_before(when: date) -> date:
    return (when.replace(day=1) - timedelta(days=1)).replace(day=1)


def _month_after(when: date) -> date:
    return (when.replace(day=28) + timedelta(days=4)).replace(day=1)
