"""Deadlines on the real 2024–2026 holidays and make-up working days (调休), pauses, and the 督办 ladder.

Expected values are worked out by hand from the State Council's holiday notices, not by the code."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.deadlines import (
    DEFAULT_LADDER,
    Pause,
    WorkCalendar,
    deadline,
    due_steps,
    ladder,
    working_days_between,
)

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SH)  # type: ignore[misc]


def test_three_working_days_from_a_monday_morning_is_thursday_morning() -> None:
    assert deadline(at(2026, 11, 23, 10), 3, TZ) == at(2026, 11, 26, 10)


def test_a_weekend_does_not_count() -> None:
    assert deadline(at(2026, 11, 27, 10), 3, TZ) == at(2026, 12, 2, 10)  # Fri 10:00 → Wed 10:00
    assert deadline(at(2026, 11, 28, 15), 3, TZ) == at(2026, 12, 3, 0)  # dispatched on Saturday: Mon–Wed


def test_national_day_2025_and_its_make_up_days() -> None:
    # 2025-10-01 to 10-08 off; Sunday 09-28 and Saturday 10-11 worked.
    assert deadline(at(2025, 9, 26, 9), 1, TZ) == at(2025, 9, 28, 9), "Saturday 27 off, Sunday 28 worked"
    assert deadline(at(2025, 9, 30, 9), 1, TZ) == at(2025, 10, 9, 9), "the whole holiday skipped"
    assert deadline(at(2025, 10, 10, 9), 1, TZ) == at(2025, 10, 11, 9), "Saturday 11 is a working day"
    assert deadline(at(2025, 10, 10, 9), 5, TZ) == at(2025, 10, 16, 9)  # Fri, Sat 11, Mon–Wed, Thu 09:00


def test_spring_festival_2024() -> None:
    # 2024-02-10 to 02-17 off; Sunday 02-04 and Sunday 02-18 worked.
    assert deadline(at(2024, 2, 3, 12), 1, TZ) == at(2024, 2, 5, 0), "Saturday off, Sunday the 4th worked"
    assert deadline(at(2024, 2, 8, 12), 3, TZ) == at(2024, 2, 19, 12)  # Thu, Fri, Sun 18, Mon 19


def test_spring_festival_and_national_day_2026() -> None:
    # 2026-02-15 to 02-23 off, Saturdays 02-14 and 02-28 worked; 10-01 to 10-07 off, Saturday 10-10 worked.
    assert deadline(at(2026, 2, 13, 18), 2, TZ) == at(2026, 2, 24, 18)  # Fri → Sat 14 → (holiday) → Tue 24
    assert deadline(at(2026, 9, 30, 8), 3, TZ) == at(2026, 10, 10, 8)  # Wed 30, Thu 8, Fri 9 → Sat 10 08:00


def test_an_emergency_is_due_the_same_day_even_on_a_holiday() -> None:
    assert deadline(at(2026, 10, 3, 14, 30), 0, TZ) == at(2026, 10, 4, 0)


def test_a_pause_while_a_return_is_reviewed_moves_the_deadline() -> None:
    start = at(2026, 11, 23, 10)
    review = Pause(at(2026, 11, 24, 9), at(2026, 11, 24, 15))  # 6 hours on a working Tuesday
    assert deadline(start, 3, TZ, [review]) == at(2026, 11, 26, 16)
    weekend = Pause(at(2026, 11, 28, 0), at(2026, 11, 30, 0))  # over a weekend: costs nothing
    assert deadline(at(2026, 11, 27, 10), 3, TZ, [weekend]) == at(2026, 12, 2, 10)


def test_years_beyond_the_official_table_use_the_settings_then_weekdays_and_say_so() -> None:
    calendar = WorkCalendar(holidays=frozenset({date(2027, 1, 1)}))
    assert not calendar(date(2027, 1, 1)) and not calendar.estimated(date(2027, 1, 1))
    assert calendar(date(2027, 1, 4)) and calendar.estimated(date(2027, 1, 4))
    assert not calendar(date(2027, 1, 2)), "a Saturday"
    assert not calendar.estimated(date(2026, 12, 31))
    assert deadline(at(2026, 12, 31, 10), 2, TZ, is_workday=calendar) == at(2027, 1, 5, 10)  # 31st, Mon 4th


def test_the_ladder_warns_a_working_day_before_and_escalates_after() -> None:
    due = at(2026, 10, 9, 12)  # a Friday after National Day
    steps = {step.name: when for step, when in ladder(due, TZ)}
    assert steps["warning"] == at(2026, 10, 8, 12), "one working day before"
    assert steps["reminder"] == due
    assert steps["notice"] == at(2026, 10, 10, 12), "Saturday 10-10 is worked"
    assert steps["public"] == at(2026, 10, 15, 12)  # Fri 9, Sat 10, Mon–Wed, Thu 15 noon
    assert [step.recipient for step in DEFAULT_LADDER] == ["department_staff", "department_admin",
                                                           "department_admin", "supervisor", "city_office"]
    warning_over_holiday = {s.name: w for s, w in ladder(at(2025, 10, 9, 10), TZ)}["warning"]
    assert warning_over_holiday == at(2025, 9, 30, 10), "back over the National Day holiday"


def test_due_steps_are_those_whose_time_has_come_and_not_yet_sent() -> None:
    due = at(2026, 11, 26, 10)
    assert [s.name for s in due_steps(due, at(2026, 11, 25, 11), set(), TZ)] == ["warning"]
    assert [s.name for s in due_steps(due, at(2026, 11, 27, 11), {"warning"}, TZ)] == ["reminder", "notice"]


@given(start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 11, 30)),
       days=st.integers(min_value=1, max_value=15))
def test_the_working_time_to_the_deadline_is_exactly_the_days_given(start: datetime, days: int) -> None:
    begin = start.replace(tzinfo=SH)
    due = deadline(begin, days, TZ)
    assert due > begin
    assert working_days_between(begin, due, TZ) == pytest.approx(days)
    assert deadline(begin, days + 1, TZ) - due >= timedelta(days=1)
