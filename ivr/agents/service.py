"""Log-in, log-out, pause and resume: Asterisk's queue is told, our record is written, both agree.

Our record (agent_events) is the truth. After every AMI (re)connect the queue is re-read and brought
back in line with it, so agents stay logged in across an Asterisk restart and a server restart.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from ivr.agents.errors import BadPauseReason, NotLoggedIn, SeatTaken, TelephonyUnavailable, UnknownSeat
from ivr.agents.store import AgentStore
from ivr.ami.client import AmiClient
from ivr.ami.errors import AmiActionFailed, AmiError
from ivr.settings import Settings
from routing.seats import PAUSE_REASONS, Fix, Member, Presence, SeatEvent, reconcile

logger = logging.getLogger(__name__)
SEAT_INTERFACE = "PJSIP/{seat}"
# app_queue's answers when the member is already in the state asked for.
ALREADY_DONE = ("Already there", "Not there")


class AgentService:
    def __init__(self, settings: Settings, ami: AmiClient, store: AgentStore) -> None:
        self.queue = settings.queue.name
        self.seats = set(settings.seat_numbers)
        self.ami = ami
        self.store = store
        self._changing = asyncio.Lock()  # one seat change at a time: two agents never get one seat

    async def login(self, agent_id: str, seat: str) -> Presence:
        if seat not in self.seats:
            raise UnknownSeat(f"no seat {seat}", seat=seat)
        async with self._changing:
            present = await self.store.presence()
            holder = next((p for p in present.values() if p.seat == seat), None)
            if holder is not None and holder.agent_id != agent_id:
                raise SeatTaken(f"seat {seat} is taken by agent {holder.agent_id}", seat=seat)
            mine = present.get(agent_id)
            if mine is not None and mine.seat != seat:
                await self._apply(Fix("remove", mine.seat, agent_id))
                await self._record(agent_id, mine.seat, "logout")
            if mine is None or mine.seat != seat:
                await self._apply(Fix("add", seat, agent_id))
                await self._record(agent_id, seat, "login")
            return (await self.store.presence())[agent_id]

    async def logout(self, agent_id: str) -> None:
        async with self._changing:
            mine = await self._present(agent_id)
            await self._apply(Fix("remove", mine.seat, agent_id))
            await self._record(agent_id, mine.seat, "logout")

    async def pause(self, agent_id: str, reason: str) -> None:
        if reason not in PAUSE_REASONS:
            raise BadPauseReason(f"unknown pause reason {reason!r}", reason=reason)
        async with self._changing:
            mine = await self._present(agent_id)
            await self._apply(Fix("pause", mine.seat, agent_id, reason))
            await self._record(agent_id, mine.seat, "pause", reason)

    async def resume(self, agent_id: str) -> None:
        async with self._changing:
            mine = await self._present(agent_id)
            await self._apply(Fix("resume", mine.seat, agent_id))
            await self._record(agent_id, mine.seat, "resume")

    async def reconcile(self) -> list[Fix]:
        """Bring Asterisk's queue in line with our record (after a re-read of the queue state)."""
        async with self._changing:
            try:
                wanted = await self.store.presence()
            except SQLAlchemyError as exc:
                logger.warning("seat state not reconciled, database unavailable: %s", exc)
                return []
            fixes = reconcile(wanted, self._members())
            for fix in fixes:
                logger.info("seat %s: %s agent %s to match our record", fix.seat, fix.action, fix.agent_id)
                try:
                    await self._apply(fix)
                except TelephonyUnavailable as exc:
                    logger.warning("seat %s not fixed: %s", fix.seat, exc)
            return fixes

    def _members(self) -> dict[str, Member]:
        view = self.ami.queue_state.queues.get(self.queue)
        members: dict[str, Member] = {}
        for interface, member in (view.members.items() if view else ()):
            seat = interface.removeprefix("PJSIP/")
            members[seat] = Member(seat, member.name, member.paused)
        return members

    async def _present(self, agent_id: str) -> Presence:
        mine = (await self.store.presence()).get(agent_id)
        if mine is None:
            raise NotLoggedIn(f"agent {agent_id} is not logged in to a seat", agent_id=agent_id)
        return mine

    async def _record(self, agent_id: str, seat: str, kind: str, reason: str | None = None) -> None:
        await self.store.record(SeatEvent(agent_id, seat, kind, reason, datetime.now(UTC)))

    async def _apply(self, fix: Fix) -> None:
        interface = SEAT_INTERFACE.format(seat=fix.seat)
        action = {"Queue": self.queue, "Interface": interface}
        if fix.action == "add":
            action |= {"Action": "QueueAdd", "MemberName": fix.agent_id, "StateInterface": interface,
                       "Paused": "false"}
        elif fix.action == "remove":
            action |= {"Action": "QueueRemove"}
        else:
            paused = fix.action == "pause"
            action |= {"Action": "QueuePause", "Paused": "true" if paused else "false",
                       "Reason": fix.reason or ""}
        try:
            await self.ami.action(action)
        except AmiActionFailed as exc:
            if not any(text in str(exc) for text in ALREADY_DONE):
                raise TelephonyUnavailable(f"Asterisk refused {action['Action']}: {exc}") from exc
        except AmiError as exc:
            raise TelephonyUnavailable(f"{action['Action']} for seat {fix.seat} not done: {exc}") from exc
