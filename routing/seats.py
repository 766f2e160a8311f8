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
    """A seat's membership of one queue, as Asterisk reports it."""

    queue: str
    seat: str
    agent_id: str
    paused: bool
    penalty: int = 0


@dataclass(frozen=True)
class Fix:
    action: str  # add, remove, pause, resume
    seat: str
    agent_id: str
    reason: str | None = None
    queue: str | None = None  # None: in every queue the seat is in (pause and resume)
    penalty: int = 0


def presence_from_events(events: Iterable[SeatEvent],
                         start: Mapping[str, Presence] | None = None) -> dict[str, Presence]:
    """Replay events in order, from `start` (nobody logged in): who is logged in where, paused or not."""
    present: dict[str, Presence] = dict(start or {})
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


def joins(presence: Presence, queues: Mapping[str, int]) -> list[Fix]:
    """Everything that puts a logged-in agent into their queues, paused if they are."""
    fixes = [Fix("add", presence.seat, presence.agent_id, queue=queue, penalty=penalty)
             for queue, penalty in sorted(queues.items())]
    if presence.paused:
        fixes.append(Fix("pause", presence.seat, presence.agent_id, presence.reason))
    return fixes


def reconcile(wanted: Mapping[str, Presence], members: Iterable[Member],
              queues_of: Mapping[str, Mapping[str, int]]) -> list[Fix]:
    """What to change in Asterisk's queues so they match our record.

    `wanted` is who is logged in where (by agent), `members` what Asterisk has, `queues_of` the queues
    and penalties each agent belongs in (from their skills). After an Asterisk restart, a queue reload or
    a change of skills, members can be missing, stale, unpaused or on the wrong penalty: our record,
    written at every log-in and pause, wins.
    """
    wanted_by_seat = {presence.seat: presence for presence in wanted.values()}
    fixes: list[Fix] = []
    kept: set[tuple[str, str]] = set()
    for member in sorted(members, key=lambda m: (m.seat, m.queue)):
        presence = wanted_by_seat.get(member.seat)
        penalty = queues_of.get(member.agent_id, {}).get(member.queue)
        if presence is None or presence.agent_id != member.agent_id or penalty != member.penalty:
            fixes.append(Fix("remove", member.seat, member.agent_id, queue=member.queue))
            continue
        kept.add((member.queue, member.seat))
        if member.paused != presence.paused:
            fixes.append(Fix("pause" if presence.paused else "resume", member.seat, member.agent_id,
                             presence.reason, queue=member.queue))
    for seat, presence in sorted(wanted_by_seat.items()):
        for queue, penalty in sorted(queues_of.get(presence.agent_id, {}).items()):
            if (queue, seat) not in kept:
                fixes.append(Fix("add", seat, presence.agent_id, queue=queue, penalty=penalty))
                if presence.paused:
                    fixes.append(Fix("pause", seat, presence.agent_id, presence.reason, queue=queue))
    return fixes
