"""Pushes to agents' browsers: the screen-pop when a call is answered, and seat state as it changes.

Driven by AMI events; each push goes only to the sockets of the agent it concerns.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ivr.ami import events
from ivr.ami.queue_state import MEMBER_STATUS
from ivr.background import Background
from ivr.calls.store import CallStore
from ivr.calls.tracker import CallTracker, event_time
from ivr.db.models import as_utc
from ivr.workorders.store import WorkOrderStore

logger = logging.getLogger(__name__)


class DeskHub:
    EVENTS = (events.AGENT_CONNECT, *events.SEAT_EVENTS)

    def __init__(self, tracker: CallTracker, store: CallStore, work_orders: WorkOrderStore, seat_queue: str) -> None:
        self.tracker = tracker
        self.store = store
        self.work_orders = work_orders
        # Every logged-in seat is in this queue (the direct one): its member events stand for the seat's,
        # which Asterisk repeats for each line queue the seat is in.
        self.seat_queue = seat_queue
        self.sockets: defaultdict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self.background = Background("desk push", logger)

    def attach(self, agent_id: str, socket: web.WebSocketResponse) -> Callable[[], None]:
        self.sockets[agent_id].add(socket)
        return lambda: self.sockets[agent_id].discard(socket)

    def handle(self, name: str, fields: Mapping[str, str]) -> None:
        """AMI event sink (sync, on the event path): work that needs the database goes to a task."""
        agent_id = fields.get("MemberName", "")
        if not self.sockets.get(agent_id):
            return
        if name == events.AGENT_CONNECT:
            self.background.spawn(self._screen_pop(agent_id, fields))
        elif name in events.SEAT_EVENTS and fields.get("Queue") == self.seat_queue:
            self.background.spawn(self._send(agent_id, {
                "type": "seat",
                "seat": fields.get("Interface", "").removeprefix("PJSIP/"),
                "phone": MEMBER_STATUS.get(fields.get("Status", ""), "unknown"),
                "paused": fields.get("Paused") == "1",
                "reason": fields.get("PausedReason") or None,
                "removed": name == events.MEMBER_REMOVED,
            }))

    async def _screen_pop(self, agent_id: str, fields: Mapping[str, str]) -> None:
        uniqueid = fields.get("Uniqueid", "")
        record = self.tracker.live.get(uniqueid)
        number = (record.caller_number if record else None) or fields.get("CallerIDNum", "")
        history = await self.store.recent_calls(number, exclude=uniqueid, limit=5)
        orders = await self.work_orders.for_number(number, limit=5)
        await self._send(agent_id, {
            "type": "screen-pop",
            "uniqueid": uniqueid,
            "caller": number,
            "answered_at": event_time(fields).isoformat(),
            "waited": fields.get("HoldTime"),
            "earlier_calls": [
                {"at": call.started_at.replace(tzinfo=call.started_at.tzinfo or UTC).isoformat()
                 if call.started_at else None,
                 "outcome": call.outcome, "agent": call.agent}
                for call in history
            ],
            "line": record.facts.get("line") if record else None,
            "work_orders": [
                {"id": order.id, "number": order.number, "status": order.status, "topic": order.topic,
                 "source": order.source, "agent": order.agent,
                 "content": order.content, "at": as_utc(order.created_at).isoformat()}
                for order in orders
            ],
        })

    def tell_everyone(self, message: dict[str, Any]) -> None:
        """A change every desk shows (the voicemails waiting): pushed to each connected agent."""
        for agent_id in [agent for agent, sockets in self.sockets.items() if sockets]:
            self.background.spawn(self._send(agent_id, dict(message)))

    async def _send(self, agent_id: str, message: dict[str, Any]) -> None:
        message["sent_at"] = datetime.now(UTC).isoformat()
        for socket in list(self.sockets.get(agent_id, ())):
            if not socket.closed:
                await socket.send_json(message)

    async def close(self) -> None:
        await self.background.close()
        for sockets in self.sockets.values():
            for socket in list(sockets):
                await socket.close()
