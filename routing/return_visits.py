"""Return visits (回访) as data: when the citizens of a closed order are asked, by which channel, at what hours,
how an unanswered attempt is retried, and when the visit is given up (issue 6).

A visit starts the day after closure (`after_days`) and must be done within `within_days`. Calls are placed
only inside the calling windows (no calls at night); an unanswered or busy call is tried again at the next
window, not in the same one; after the last call attempt the citizen gets an SMS (a mobile number only) and
has until the visit's deadline to reply. A number on the do-not-contact list is never called nor texted:
its visit ends at once as unreachable. Times here are the centre's local time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

PHONE, SMS = "phone", "sms"
ANSWERED, NO_ANSWER, BUSY, FAILED, REPLIED = "answered", "no_answer", "busy", "failed", "replied"
SMS_SENT, NO_REPLY = "sms_sent", "no_reply"  # the survey SMS went out; its reply did not come by the deadline


@dataclass(frozen=True)
class Window:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"a calling window ends after it starts: {self.start:%H:%M}–{self.end:%H:%M}")


DEFAULT_WINDOWS = (Window(time(9), time(12)), Window(time(14), time(20)))


@dataclass(frozen=True)
class VisitRule:
    order_type: str = "*"  # the order type it applies to; "*" for the others
    after_days: int = 1  # the visit starts this many days after closure (the day after, by default)
    within_days: int = 5  # and ends, answered or not, this many days after closure
    channels: tuple[str, ...] = (PHONE, SMS)  # in this order
    call_attempts: int = 3


@dataclass(frozen=True)
class Visit:
    """Where a citizen's visit stands: what was tried so far."""

    closed_at: datetime
    calls: int = 0
    texted: bool = False


@dataclass(frozen=True)
class Step:
    action: str  # call, sms, wait_reply, done, unreachable
    at: datetime | None = None  # when (call, sms); until when (wait_reply)
    reason: str = ""


def rule_for(order_type: str, rules: Sequence[VisitRule]) -> VisitRule:
    return next((r for r in rules if r.order_type == order_type), None) or next(
        (r for r in rules if r.order_type == "*"), VisitRule())


def open_at(moment: datetime, windows: Sequence[Window]) -> datetime:
    """`moment` if a window is open then, else the start of the next window (the next day's if need be)."""
    ordered = sorted(windows, key=lambda w: w.start)
    for day in range(8):
        current = moment.date() + timedelta(days=day)
        for window in ordered:
            start, end = _at(current, window.start, moment), _at(current, window.end, moment)
            if moment < end:
                return max(moment, start)
    raise ValueError("no calling window")


def after_window(moment: datetime, windows: Sequence[Window]) -> datetime:
    """The start of the window after the one `moment` falls in (or the next one, between windows)."""
    ordered = sorted(windows, key=lambda w: w.start)
    for day in range(8):
        current = moment.date() + timedelta(days=day)
        for window in ordered:
            start = _at(current, window.start, moment)
            if start > moment:
                return start
    raise ValueError("no calling window")


def _at(day: date, clock: time, like: datetime) -> datetime:
    return datetime.combine(day, clock, tzinfo=like.tzinfo)


def first_step(visit: Visit, rule: VisitRule, windows: Sequence[Window], number: str,
               do_not_contact: Iterable[str], mobile: bool) -> Step:
    if number in set(do_not_contact):
        return Step("unreachable", reason="the number is on the do-not-contact list")
    start = datetime.combine((visit.closed_at + timedelta(days=rule.after_days)).date(), time(0),
                             tzinfo=visit.closed_at.tzinfo)
    return _next_contact(visit, rule, windows, start, mobile)


def after_attempt(visit: Visit, outcome: str, now: datetime, rule: VisitRule, windows: Sequence[Window],
                  mobile: bool) -> tuple[Visit, Step]:
    """The visit and its next step after an attempt (`outcome` of a call, or of the wait for an SMS reply)."""
    if outcome in (ANSWERED, REPLIED):
        return visit, Step("done")
    if outcome == SMS_SENT:
        texted = Visit(visit.closed_at, visit.calls, True)
        return texted, Step("wait_reply", at=deadline(visit, rule))
    if outcome == NO_REPLY:
        return visit, _next_contact(visit, rule, windows, now, mobile)
    called = Visit(visit.closed_at, visit.calls + 1, visit.texted)
    return called, _next_contact(called, rule, windows, after_window(now, windows), mobile)


def _next_contact(visit: Visit, rule: VisitRule, windows: Sequence[Window], earliest: datetime,
                  mobile: bool) -> Step:
    ends = deadline(visit, rule)
    for channel in rule.channels:
        if channel == PHONE and visit.calls < rule.call_attempts:
            at = open_at(earliest, windows)
            return Step("call", at) if at < ends else Step("unreachable", reason="no call window before the deadline")
        if channel == SMS and not visit.texted and mobile:
            at = open_at(earliest, windows)
            return Step("sms", at) if at < ends else Step("unreachable", reason="no window before the deadline")
    tried = f"{visit.calls} call(s)" + (" and an SMS" if visit.texted else "")
    return Step("unreachable", reason=f"no answer after {tried}" if visit.calls or visit.texted
                else "no channel can reach the number")


def deadline(visit: Visit, rule: VisitRule) -> datetime:
    return visit.closed_at + timedelta(days=rule.within_days)


def may_start(in_flight: int, cap: int) -> int:
    """How many more outbound survey calls may start now under the cap on concurrent calls."""
    return max(cap - in_flight, 0)
