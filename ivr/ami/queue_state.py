"""Queue and member state as Asterisk reports it: re-read in full on every (re)connect, then kept by events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

# app_queue's member status numbers (AST_DEVICE_*).
MEMBER_STATUS = {
    "0": "unknown", "1": "not_in_use", "2": "in_use", "3": "busy", "4": "invalid",
    "5": "unavailable", "6": "ringing", "7": "ringinuse", "8": "on_hold",
}


@dataclass
class MemberState:
    interface: str
    name: str
    status: str
    paused: bool
    calls_taken: int
    penalty: int = 0

    @property
    def available(self) -> bool:
        return not self.paused and self.status == "not_in_use"


@dataclass
class QueueView:
    name: str
    members: dict[str, MemberState] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)


class QueueState:
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
        queue = self.queues.setdefault(fields.get("Queue", ""), QueueView(fields.get("Queue", "")))
        if name in ("QueueMemberStatus", "QueueMemberAdded", "QueueMemberPause"):
            self._put_member(queue, fields)
        elif name == "QueueMemberRemoved":
            queue.members.pop(fields.get("Interface", ""), None)
        elif name == "QueueCallerJoin":
            queue.waiting.add(fields.get("Uniqueid", ""))
        elif name == "QueueCallerLeave":
            queue.waiting.discard(fields.get("Uniqueid", ""))

    @staticmethod
    def _put_member(queue: QueueView, fields: Mapping[str, str]) -> None:
        interface = fields.get("Interface") or fields.get("Location") or fields.get("StateInterface", "")
        known = queue.members.get(interface)
        penalty = fields.get("Penalty")
        queue.members[interface] = MemberState(
            interface=interface,
            name=fields.get("MemberName") or fields.get("Name") or interface,
            status=MEMBER_STATUS.get(fields.get("Status", "0"), "unknown"),
            paused=fields.get("Paused") == "1",
            calls_taken=int(fields.get("CallsTaken") or 0),
            penalty=int(penalty) if penalty and penalty.isdigit() else (known.penalty if known else 0),
        )

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
