"""Call-side KPIs, exactly defined. Pure: rows in, figures out.

Definitions (GB/T 33358 and 12345 practice; see docs/kpi.md):
- offered: calls to the hotline number that started in the period, refused numbers excluded, calls that
  never reached the queue (hung up during the greeting) included;
- answered: connected to an agent; answer rate = answered / offered;
- answered within the service level (15 s of queueing): 15-second answer rate = those / offered;
- abandoned: hung up while queued, split into short (waited at most `short_abandon_seconds`) and long;
- average wait: over every call that waited in the queue (answered, abandoned and timed out alike, so
  giving up does not flatter the figure);
- handle time: talk time + the queue's wrap-up time, averaged over answered calls.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from routing.seats import SeatEvent


@dataclass(frozen=True)
class CallFacts:
    uniqueid: str
    caller: str | None
    started_at: datetime
    outcome: str
    wait_seconds: float | None
    talk_seconds: float | None
    agent: str | None
    rating: str | None
    line: str | None = None  # the service line's queue; None when our intake did not route the call


@dataclass
class AgentTimes:
    agent_id: str
    logged_in_seconds: float = 0.0
    paused_seconds: dict[str, float] = field(default_factory=dict)
    talk_seconds: float = 0.0
    wrapup_seconds: float = 0.0
    calls_answered: int = 0
    ratings: dict[str, int] = field(default_factory=dict)


@dataclass
class CallKpis:
    offered: int
    answered: int
    answer_rate: float | None
    answered_within_service_level: int
    service_level_rate: float | None
    abandoned: int
    abandoned_short: int
    abandoned_long: int
    timed_out: int
    callback_requested: int
    voicemail: int
    hung_up_before_queue: int
    average_wait_seconds: float | None
    average_handle_seconds: float | None
    ratings: dict[str, int]
    abandoned_calls: list[dict[str, object]]


@dataclass(frozen=True)
class CallCounts:
    """The sums every call figure is made of: the database adds them up in SQL (ivr/reports/queries.py) over
    millions of calls, `count_calls` adds them up over rows (the reference the SQL is tested against)."""

    offered: int = 0
    answered: int = 0
    answered_within_service_level: int = 0
    abandoned: int = 0
    abandoned_short: int = 0
    timed_out: int = 0
    callback_requested: int = 0
    voicemail: int = 0
    hung_up_before_queue: int = 0
    waited: int = 0  # calls that waited in the queue (a wait was recorded)
    wait_seconds: float = 0.0
    talk_seconds: float = 0.0  # over answered calls
    ratings: tuple[tuple[str, int], ...] = ()


def count_calls(calls: Iterable[CallFacts], service_level_seconds: float, short_abandon_seconds: float) -> CallCounts:
    offered = [call for call in calls if call.outcome != "refused"]
    counts = Counter(call.outcome for call in offered)
    answered = [call for call in offered if call.outcome == "answered"]
    abandoned = [call for call in offered if call.outcome == "abandoned"]
    waits = [call.wait_seconds for call in offered if call.wait_seconds is not None]
    return CallCounts(
        offered=len(offered),
        answered=len(answered),
        answered_within_service_level=sum(1 for call in answered
                                          if (call.wait_seconds or 0) <= service_level_seconds),
        abandoned=len(abandoned),
        abandoned_short=sum(1 for call in abandoned if (call.wait_seconds or 0) <= short_abandon_seconds),
        timed_out=counts["timed_out"],
        callback_requested=counts["callback_requested"],
        voicemail=counts["voicemail"],
        hung_up_before_queue=counts["hung_up_before_queue"],
        waited=len(waits),
        wait_seconds=sum(waits),
        talk_seconds=sum(call.talk_seconds or 0 for call in answered),
        ratings=tuple(sorted(Counter(call.rating for call in answered if call.rating).items())),
    )


def kpis_of(counts: CallCounts, wrapup_seconds: float,
            abandoned_calls: list[dict[str, object]] | None = None) -> CallKpis:
    handle_total = counts.talk_seconds + wrapup_seconds * counts.answered
    return CallKpis(
        offered=counts.offered,
        answered=counts.answered,
        answer_rate=_ratio(counts.answered, counts.offered),
        answered_within_service_level=counts.answered_within_service_level,
        service_level_rate=_ratio(counts.answered_within_service_level, counts.offered),
        abandoned=counts.abandoned,
        abandoned_short=counts.abandoned_short,
        abandoned_long=counts.abandoned - counts.abandoned_short,
        timed_out=counts.timed_out,
        callback_requested=counts.callback_requested,
        voicemail=counts.voicemail,
        hung_up_before_queue=counts.hung_up_before_queue,
        average_wait_seconds=round(counts.wait_seconds / counts.waited, 2) if counts.waited else None,
        average_handle_seconds=round(handle_total / counts.answered, 2) if counts.answered else None,
        ratings=dict(counts.ratings),
        abandoned_calls=abandoned_calls or [],
    )


def call_kpis(calls: Iterable[CallFacts], service_level_seconds: float, short_abandon_seconds: float,
              wrapup_seconds: float) -> CallKpis:
    calls = list(calls)
    abandoned = sorted((call for call in calls if call.outcome == "abandoned"), key=lambda call: call.started_at)
    return kpis_of(count_calls(calls, service_level_seconds, short_abandon_seconds), wrapup_seconds, [
        {"uniqueid": call.uniqueid, "caller": call.caller, "started_at": call.started_at.isoformat(),
         "wait_seconds": call.wait_seconds}
        for call in abandoned
    ])


def agent_times(events: Iterable[SeatEvent], calls: Iterable[CallFacts], start: datetime, end: datetime,
                wrapup_seconds: float) -> dict[str, AgentTimes]:
    """Per agent: time logged in and paused (by reason) within [start, end), talk, wrap-up, calls, ratings.

    `events` must include each agent's last event before `start`, so that a shift that began earlier counts.
    """
    times: dict[str, AgentTimes] = {}
    by_agent: defaultdict[str, list[SeatEvent]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e.at):
        by_agent[event.agent_id].append(event)
    for agent_id, agent_events in by_agent.items():
        times[agent_id] = _replay(agent_id, agent_events, start, end)
    for call in calls:
        if call.outcome != "answered" or call.agent is None:
            continue
        entry = times.setdefault(call.agent, AgentTimes(call.agent))
        entry.calls_answered += 1
        entry.talk_seconds += call.talk_seconds or 0
        entry.wrapup_seconds += wrapup_seconds
        if call.rating:
            entry.ratings[call.rating] = entry.ratings.get(call.rating, 0) + 1
    return times


def _replay(agent_id: str, events: list[SeatEvent], start: datetime, end: datetime) -> AgentTimes:
    result = AgentTimes(agent_id)
    logged_in_since: datetime | None = None
    paused_since: datetime | None = None
    reason: str | None = None
    for event in [*events, SeatEvent(agent_id, "", "end", None, end)]:
        at = min(max(event.at, start), end)
        if paused_since is not None and event.kind in ("pause", "resume", "logout", "end", "login"):
            key = reason or "unspecified"
            result.paused_seconds[key] = result.paused_seconds.get(key, 0.0) + (at - paused_since).total_seconds()
            paused_since, reason = None, None
        if logged_in_since is not None and event.kind in ("logout", "end", "login"):
            result.logged_in_seconds += (at - logged_in_since).total_seconds()
            logged_in_since = None
        if event.kind == "login":
            logged_in_since = at
        elif event.kind == "pause" and logged_in_since is not None:
            paused_since, reason = at, event.reason
    return result


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
