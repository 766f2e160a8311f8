"""The AMI events the server listens to: the only ones Asterisk is asked to send (manager.conf's eventfilter).

Every event costs Asterisk a copy for our session and us a parse and a dispatch; with 200 calls Asterisk
would send about 11 per call, half of them nobody here reads (HangupRequest, AgentCalled, the agents'
Newchannel) or reads once where it comes several times (QueueMemberStatus, once per queue of the seat).
"""

from __future__ import annotations

from dataclasses import dataclass

# The call tracker's (ivr/calls/tracker.py).
NEWCHANNEL = "Newchannel"
HANGUP = "Hangup"
QUEUE_CALLER_JOIN = "QueueCallerJoin"
QUEUE_CALLER_LEAVE = "QueueCallerLeave"
QUEUE_CALLER_ABANDON = "QueueCallerAbandon"
AGENT_CONNECT = "AgentConnect"
AGENT_COMPLETE = "AgentComplete"
USER_EVENT = "UserEvent"
# A seat's state (ivr/ami/queue_state.py, the desk's pushes).
MEMBER_STATUS = "QueueMemberStatus"
MEMBER_ADDED = "QueueMemberAdded"
MEMBER_REMOVED = "QueueMemberRemoved"
MEMBER_PAUSE = "QueueMemberPause"
# The callback dialer's.
ORIGINATE_RESPONSE = "OriginateResponse"
# Asterisk's own life, a seat phone's registration, the hand-off's conference (tests wait on these).
FULLY_BOOTED = "FullyBooted"
SHUTDOWN = "Shutdown"
CONTACT_STATUS = "ContactStatus"
CONFBRIDGE_JOIN = "ConfbridgeJoin"

SEAT_EVENTS = frozenset({MEMBER_STATUS, MEMBER_ADDED, MEMBER_REMOVED, MEMBER_PAUSE})


@dataclass(frozen=True)
class EventFilter:
    """One `eventfilter` line: an event by name (a hash look-up in Asterisk, no regular expression),
    optionally only when one of its headers has exactly the given value."""

    name: str
    header: str | None = None
    value: str = ""

    def line(self) -> str:
        if self.header is None:
            return f"eventfilter(action(include),name({self.name})) ="
        return (f"eventfilter(action(include),name({self.name}),header({self.header}),method(exact)) = "
                f"{self.value}")


def event_filters(seat_queue: str, citizens_context: str) -> list[EventFilter]:
    """What we read, and no more. A seat's phone state is the same in each of its queues, and every
    logged-in seat is in `seat_queue`: its QueueMemberStatus stands for all the others (QueueState applies it
    to the seat's membership in every queue). Only a citizen's channel starts in `citizens_context`."""
    by_name = [
        HANGUP, QUEUE_CALLER_JOIN, QUEUE_CALLER_LEAVE, QUEUE_CALLER_ABANDON, AGENT_CONNECT, AGENT_COMPLETE,
        USER_EVENT, MEMBER_ADDED, MEMBER_REMOVED, MEMBER_PAUSE, ORIGINATE_RESPONSE, FULLY_BOOTED, SHUTDOWN,
        CONTACT_STATUS, CONFBRIDGE_JOIN,
    ]
    return [
        EventFilter(NEWCHANNEL, "Context", citizens_context),
        EventFilter(MEMBER_STATUS, "Queue", seat_queue),
        *(EventFilter(name) for name in by_name),
    ]


def filtered_names(filters: list[EventFilter]) -> frozenset[str]:
    return frozenset(f.name for f in filters)
