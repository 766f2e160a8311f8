"""What the wallboard shows, built from the live state in memory and the day's figures from the database.

Pure: no I/O. The hall screen is seen by anyone in the hall, so no citizen's phone number (nor a call's id)
goes into a snapshot: the waiting callers are a count and their waiting times, the call figures a fixed list of
counts and rates, and a hot term with a run of digits in it is left out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.ami.queue_state import ON_A_CALL, MemberState, QueueState, QueueView
from ivr.calls.tracker import CallRecord

AGENT_STATES = ("idle", "talking", "ringing", "paused", "offline")
OFFLINE = frozenset({"unavailable", "invalid", "unknown"})
# The call figures the screen shows; routing.kpi's others (the abandoned calls' numbers above all) stay out.
CALL_FIGURES = ("offered", "answered", "answer_rate", "answered_within_service_level", "service_level_rate",
                "abandoned", "abandoned_short", "abandoned_long", "average_wait_seconds")
# Caller ids and order numbers are digits: a term holding five in a row is somebody's number, not a topic.
NUMBER_LIKE = re.compile(r"\d{5}")
# A caller between two stretches in the queue (hearing their place) is still waiting; these end the wait.
WAIT_ENDED = ("answered", "abandoned", "timed_out", "callback_requested", "voicemail")


@dataclass
class DayFigures:
    """The day's figures read from the database (ivr/wallboard/figures.py), as of `read_at`."""

    read_at: datetime
    calls: dict[str, Any] = field(default_factory=dict)
    orders: dict[str, Any] = field(default_factory=dict)
    hot_terms: list[dict[str, Any]] = field(default_factory=list)
    needed_now: int | None = None  # agents the staffing plan asks for in this half hour
    slot: str | None = None  # that half hour's start, local time (09:30)


def agent_state(member: MemberState) -> str:
    if member.status in ON_A_CALL:  # on a call (ringinuse: and offered another) is talking, paused or not
        return "talking"
    if member.status == "ringing":
        return "ringing"
    if member.paused:
        return "paused"
    if member.status in OFFLINE:
        return "offline"
    return "idle"


def agents(seat_queue: QueueView | None) -> dict[str, Any]:
    """The seats logged in (members of the seat queue, each once) by state; the paused ones by reason."""
    members = list(seat_queue.members.values()) if seat_queue else []
    states = Counter(agent_state(member) for member in members)
    paused = Counter(m.paused_reason or "other" for m in members if agent_state(m) == "paused")
    return {"logged_in": len(members), **{state: states[state] for state in AGENT_STATES},
            "paused_by_reason": dict(sorted(paused.items()))}


def waiting_ids(state: QueueState, live: Mapping[str, CallRecord]) -> set[str]:
    """Callers waiting now: in a queue as Asterisk reports it (also calls from before our start), and those
    between two stretches in the queue, hearing their place (they left it for a moment, not for good)."""
    queued = {uniqueid for view in state.queues.values() for uniqueid in view.waiting}
    between = {uniqueid for uniqueid, call in live.items()
               if call.facts.get("joined_queue") and not any(call.facts.get(fact) for fact in WAIT_ENDED)}
    return queued | between


def waiting_since(ids: Iterable[str], live: Mapping[str, CallRecord],
                  first_seen: Mapping[str, datetime]) -> list[datetime]:
    """When each waiting caller first joined a queue, oldest first: the tracker knows for the calls it followed
    from their start, `first_seen` (when the wallboard first saw them) stands in for the others."""
    found = []
    for uniqueid in ids:
        call = live.get(uniqueid)
        since = call.enqueued_at if call and call.enqueued_at else first_seen.get(uniqueid)
        if since is not None:
            found.append(since)
    return sorted(found)


def call_figures(calls: Mapping[str, Any]) -> dict[str, Any]:
    return {name: calls.get(name) for name in CALL_FIGURES}


def hot_terms(terms: Iterable[Mapping[str, Any]], limit: int) -> list[dict[str, Any]]:
    shown = [{"term": str(t["term"]), "count": int(t["count"]), "surge": bool(t.get("surge"))}
             for t in terms if not NUMBER_LIKE.search(str(t["term"]))]
    return shown[:limit]


def build(*, now: datetime, live_link: bool, waiting: list[datetime], seats: dict[str, Any],
          figures: DayFigures | None, figures_error: str | None, refresh_seconds: float,
          service_level_seconds: int, hot_limit: int, timezone: str) -> dict[str, Any]:
    """The snapshot as JSON: what one push carries and GET /api/wallboard answers."""
    return {
        "at": now.isoformat(),
        "timezone": timezone,  # the centre's: the screen shows its clock and times in it
        "live": live_link,  # False: the AMI link is down, the queue and seat figures are not current
        "queue": {"waiting": len(waiting), "oldest_since": waiting[0].isoformat() if waiting else None},
        "agents": seats,
        "today": call_figures(figures.calls) if figures else None,
        "orders": figures.orders if figures else None,
        "hot_terms": hot_terms(figures.hot_terms, hot_limit) if figures else [],
        "staffing": {"needed": figures.needed_now if figures else None, "slot": figures.slot if figures else None,
                     "logged_in": seats["logged_in"]},
        "figures": {"as_of": figures.read_at.isoformat() if figures else None, "error": figures_error},
        "refresh_seconds": refresh_seconds,
        "service_level_seconds": service_level_seconds,
    }
