"""A day's staffing plan by half hour, from what past days of the same kind measured. Pure.

Calls arrive very differently on a working day and on a day off (weekends and statutory holidays; a make-up
working day, 调休, is a working day), so a day is forecast from past days of its own kind only: per half hour,
the calls offered on an average such day, and the average handle time (talk + wrap-up) of the calls answered
then. Erlang C (routing.erlang) turns each half hour into the agents needed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from routing.erlang import Staffing, agents_needed

SLOT_SECONDS = 1800
SLOTS = tuple(time(hour, minute) for hour in range(24) for minute in (0, 30))


@dataclass(frozen=True)
class SlotMeasure:
    """One half hour as measured over `days` past days."""

    start: time
    days: int
    calls: int  # offered (refused numbers excluded)
    handled: int  # answered
    handle_seconds: float  # talk + wrap-up, summed over the answered calls


@dataclass(frozen=True)
class SlotPlan:
    start: time
    calls: float  # expected offered calls in the half hour
    handle_seconds: float  # average handle time assumed
    staffing: Staffing


@dataclass(frozen=True)
class Bucket:
    """Calls that started within one stretch of local time (shorter than a half hour, inside one)."""

    start: datetime  # local
    calls: int
    handled: int
    talk_seconds: float


def slot_of(moment_local: datetime) -> time:
    """The half hour a local moment falls in: 10:47:12 → 10:30."""
    return time(moment_local.hour, 30 if moment_local.minute >= 30 else 0)


def measures(buckets: Iterable[Bucket], days: Collection[date], wrapup_seconds: float) -> list[SlotMeasure]:
    """Every half hour of the day, summed over the buckets that fall on `days`. A day counts only if a call
    was recorded on it: before the records begin (or while the server was down) a day says nothing."""
    sums = {slot: [0, 0, 0.0] for slot in SLOTS}
    seen: set[date] = set()
    for bucket in buckets:
        if bucket.start.date() in days:
            seen.add(bucket.start.date())
            _add(sums[slot_of(bucket.start)], bucket, wrapup_seconds)
    return [SlotMeasure(slot, len(seen), int(calls), int(handled), handle)
            for slot, (calls, handled, handle) in sums.items()]


def _add(into: list[float], bucket: Bucket, wrapup_seconds: float) -> None:
    into[0] += bucket.calls
    into[1] += bucket.handled
    into[2] += bucket.talk_seconds + bucket.handled * wrapup_seconds


def plan(measures: Iterable[SlotMeasure], target_seconds: float, target: float, shrinkage: float,
         default_handle_seconds: float) -> list[SlotPlan]:
    """Per half hour (in time order): the expected calls, the handle time, and the agents for the target."""
    return [_slot_plan(measure, target_seconds, target, shrinkage, default_handle_seconds)
            for measure in sorted(measures, key=lambda measure: measure.start)]


def _slot_plan(measure: SlotMeasure, target_seconds: float, target: float, shrinkage: float,
               default_handle_seconds: float) -> SlotPlan:
    calls = measure.calls / measure.days if measure.days else 0.0
    measured = measure.handled and measure.handle_seconds > 0
    handle = measure.handle_seconds / measure.handled if measured else default_handle_seconds
    staffing = agents_needed(calls, SLOT_SECONDS, handle, target_seconds, target, shrinkage)
    return SlotPlan(measure.start, calls, handle, staffing)
