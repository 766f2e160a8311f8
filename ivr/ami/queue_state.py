"""Queue and member state as Asterisk reports it: re-read in full on every (re)connect, then kept by events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ivr.ami import events

# app_queue's member status numbers (AST_DEVICE_*).
MEMBER_STATUS = {
    "0": "unknown", "1": "not_in_use", "2": "in_use", "3": "busy", "4": "invalid",
    "5": "unavailable", "6": "ringing", "7": "ringinuse", "8": "on_hold",
}
ON_A_CALL = frozenset({"in_use", "busy", "on_hold", "ringinuse"})  # the seat's phone is on a call


@dataclass
class MemberState:
    interface: str
    name: str
    status: str
    paused: bool
    calls_taken: int
    penalty: int = 0
    paused_reason: str = ""  # as the agent gave it when pausing (/metrics counts paused seats by it)

    @property
    def available(self) -> bool:
        return not self.paused and self.status == "not_in_use"


@dataclass
class QueueView:
    name: str
    members: dict[str, MemberState] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)


class QueueState:
    EVENTS = (events.MEMBER_STATUS, events.MEMBER_ADDED, events.MEMBER_PAUSE, events.MEMBER_REMOVED,
              events.QUEUE_CALLER_JOIN, events.QUEUE_CALLER_LEAVE)

    def __init__(self) -> None:
        self.queues: dict[str, QueueView] = {}
        self.refreshed_at: datetime | None = None
        self.stale = True

    def mark_stale(self) -> None:
        self.stale = True

    def replace(self, messages: list[Mapping[str, str]]) -> None:
        """Rebuild from a QueueStatus reply (QueueParams, QueueMember and QueueEntry events)."""
        queues: dict[str, QueueView] = {}
        for message in messages:
            kind, name = message.get("Event"), message.get("Queue", "")
            if kind == "QueueParams":
                queues.setdefault(name, QueueView(name))
            elif kind == "QueueMember":
                self._put_member(queues.setdefault(name, QueueView(name)), message)
            elif kind == "QueueEntry":
                queues.setdefault(name, QueueView(name)).waiting.add(message.get("Uniqueid", ""))
        self.queues = queues
        self.refreshed_at = datetime.now(UTC)
        self.stale = False

    def handle(self, name: str, fields: Mapping[str, str]) -> None:
        """AMI sink for EVENTS."""
        queue_name = fields.get("Queue", "")
        queue = self.queues.get(queue_name)
        if queue is None:
            queue = self.queues[queue_name] = QueueView(queue_name)
        if name == events.MEMBER_STATUS:
            member = self._put_member(queue, fields)
            self._spread_status(member)
        elif name in (events.MEMBER_ADDED, events.MEMBER_PAUSE):
            self._put_member(queue, fields)
        elif name == events.MEMBER_REMOVED:
            queue.members.pop(fields.get("Interface", ""), None)
        elif name == events.QUEUE_CALLER_JOIN:
            queue.waiting.add(fields.get("Uniqueid", ""))
        elif name == events.QUEUE_CALLER_LEAVE:
            queue.waiting.discard(fields.get("Uniqueid", ""))

    def _spread_status(self, member: MemberState) -> None:
        """The seat's phone state is the same in all its queues, and Asterisk is asked to report it from one
        queue only (ivr/ami/events.py): the seat's other memberships take it from there."""
        for view in self.queues.values():
            other = view.members.get(member.interface)
            if other is not None:
                other.status = member.status

    @staticmethod
    def _put_member(queue: QueueView, fields: Mapping[str, str]) -> MemberState:
        interface = fields.get("Interface") or fields.get("Location") or fields.get("StateInterface", "")
        known = queue.members.get(interface)
        penalty = fields.get("Penalty")
        member = queue.members[interface] = MemberState(
            interface=interface,
            name=fields.get("MemberName") or fields.get("Name") or interface,
            status=MEMBER_STATUS.get(fields.get("Status", "0"), "unknown"),
            paused=fields.get("Paused") == "1",
            calls_taken=int(fields.get("CallsTaken") or 0),
            penalty=int(penalty) if penalty and penalty.isdigit() else (known.penalty if known else 0),
            paused_reason=fields.get("PausedReason", "") if fields.get("Paused") == "1" else "",
        )
        return member

    def seat(self, interface: str) -> MemberState | None:
        """The seat as any of its queues reports it (its phone's state is the same in all)."""
        return next((view.members[interface] for view in self.queues.values() if interface in view.members), None)

    def summary(self) -> dict[str, object]:
        return {
            "stale": self.stale,
            "refreshed_at": self.refreshed_at.isoformat() if self.refreshed_at else None,
            "queues": {
                name: {
                    "members": len(view.members),
                    "available": sum(m.available for m in view.members.values()),
                    "waiting": len(view.waiting),
                }
                for name, view in sorted(self.queues.items())
            },
        }
