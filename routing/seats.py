"""Who should be on which seat, and what to tell Asterisk when its queue says otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

# Why an agent is not taking calls; the desk shows the Chinese label.
PAUSE_REASONS: dict[str, str] = {
    "break": "休息",
    "training": "培训",
    "after_call_work": "话后处理",
    "meeting": "会议",
}


@dataclass(frozen=True)
class Presence:
    """An agent logged in to a seat, from our own record of log-ins and pauses."""

    agent_id: str
    seat: str
    paused: bool
    reason: str | None
    since: datetime


@dataclass(frozen=True)
class SeatEvent:
    agent_id: str
    seat: str
    kind: str  # login, logout, pause, resume
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class Member:
    """A queue member as Asterisk reports it."""

    seat: str
    agent_id: str
    paused: bool


@dataclass(frozen=True)
class Fix:
    action: str  # add, remove, pause, resume
    seat: str
    agent_id: str
    reason: str | None = None


def presence_from_events(events: Iterable[SeatEvent]) -> dict[str, Presence]:
    """Replay events in order: who is logged in where, paused or not."""
    present: dict[str, Presence] = {}
    for event in events:
        current = present.get(event.agent_id)
        if event.kind == "login":
            present[event.agent_id] = Presence(event.agent_id, event.seat, False, None, event.at)
        elif event.kind == "logout":
            present.pop(event.agent_id, None)
        elif current is not None and event.kind in ("pause", "resume"):
            paused = event.kind == "pause"
            present[event.agent_id] = Presence(current.agent_id, current.seat, paused,
                                               event.reason if paused else None, event.at)
    return present


def reconcile(wanted: Mapping[str, Presence], members: Mapping[str, Member]) -> list[Fix]:
    """What to change in Asterisk's queue (`members` by seat) so it matches our record (`wanted` by agent).

    After an Asterisk restart, or a queue reload, members can be missing, stale or unpaused: our record,
    written at every log-in and pause, wins.
    """
    fixes: list[Fix] = []
    wanted_by_seat = {presence.seat: presence for presence in wanted.values()}
    for seat, member in sorted(members.items()):
        presence = wanted_by_seat.get(seat)
        if presence is None or presence.agent_id != member.agent_id:
            fixes.append(Fix("remove", seat, member.agent_id))
    for seat, presence in sorted(wanted_by_seat.items()):
        current = members.get(seat)
        if current is None or current.agent_id != presence.agent_id:
            fixes.append(Fix("add", seat, presence.agent_id))
            if presence.paused:
                fixes.append(Fix("pause", seat, presence.agent_id, presence.reason))
        elif current.paused != presence.paused:
            fixes.append(Fix("pause" if presence.paused else "resume", seat, presence.agent_id, presence.reason))
    return fixes
