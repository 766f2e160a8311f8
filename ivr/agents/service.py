"""Log-in, log-out, pause and resume: Asterisk's queue is told, our record is written, both agree.

Our record (agent_events) is the truth. After every AMI (re)connect the queue is re-read and brought
back in line with it, so agents stay logged in across an Asterisk restart and a server restart.

While the database is away, log-outs, pauses and resumes still reach Asterisk: the service goes by its last
reading of the record and the changes made since, which wait in the outbox (ivr/agents/outbox.py) and are
written, in order, once the database is back. A log-in needs the database (the agent's skills).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from ivr.agents.errors import (
    BadPauseReason,
    DatabaseUnavailable,
    NoLine,
    NotLoggedIn,
    SeatTaken,
    TelephonyUnavailable,
    UnknownAgent,
    UnknownSeat,
)
from ivr.agents.outbox import SeatOutbox
from ivr.agents.store import AgentStore
from ivr.ami.client import AmiClient
from ivr.ami.errors import AmiActionFailed, AmiError
from ivr.db.engine import DATABASE_ERRORS
from ivr.db.models import Agent
from ivr.lines import lines_of, seat_index
from ivr.settings import Settings
from routing.lines import memberships, parse_skills
from routing.seats import PAUSE_REASONS, Fix, Member, Presence, SeatEvent, joins, presence_from_events, reconcile

logger = logging.getLogger(__name__)
SEAT_INTERFACE = "PJSIP/{seat}"
# app_queue's answers when the member is already in the state asked for.
ALREADY_DONE = ("Already there", "Not there")
# How long a seat change waits on the database before it goes on without it (a silent database answers nothing).
DATABASE_WAIT_SECONDS = 2.0
T = TypeVar("T")


class AgentService:
    def __init__(self, settings: Settings, ami: AmiClient, store: AgentStore, outbox: SeatOutbox | None = None) -> None:
        self.settings = settings
        self.lines = lines_of(settings)
        self.our_queues = {*settings.line_queues, settings.direct_queue}
        self.seats = set(settings.seat_numbers)
        self.ami = ami
        self.store = store
        self.outbox = outbox or SeatOutbox(store, settings.data_dir / "spool" / "agent_events.jsonl")
        self._changing = asyncio.Lock()  # one seat change at a time: two agents never get one seat
        # Our record as last read, with the changes made since: what the service goes by while the database is away.
        self._known: dict[str, Presence] = {}
        self._known_agents: dict[str, Agent] = {}

    async def login(self, agent_id: str, seat: str) -> Presence:
        if seat not in self.seats:
            raise UnknownSeat(f"no seat {seat}", seat=seat)
        async with self._changing:
            present = await self.presence()
            holder = next((p for p in present.values() if p.seat == seat), None)
            if holder is not None and holder.agent_id != agent_id:
                raise SeatTaken(f"seat {seat} is taken by agent {holder.agent_id}", seat=seat)
            queues = self.queues_of(await self._agent(agent_id), seat)
            mine = present.get(agent_id)
            if mine is not None and mine.seat != seat:
                await self._leave(mine)
                await self._record(agent_id, mine.seat, "logout")
            if mine is None or mine.seat != seat:
                for fix in joins(Presence(agent_id, seat, False, None, datetime.now(UTC)), queues):
                    await self._apply(fix)
                await self._record(agent_id, seat, "login")
            return self._known[agent_id]

    def queues_of(self, agent: Agent, seat: str) -> dict[str, int]:
        """The line queues the agent's skills give, and the direct queue, where the seat's index is its
        penalty (so that one agent can be rung there alone: min = max = that index)."""
        queues = memberships(self.lines, parse_skills(agent.skills), self.settings.routing.fallback_penalty)
        if not queues:
            raise NoLine(f"agent {agent.id}'s skills ({agent.skills}) serve no line", agent_id=agent.id)
        return queues | {self.settings.direct_queue: seat_index(self.settings, seat)}

    async def logout(self, agent_id: str) -> None:
        async with self._changing:
            mine = await self._present(agent_id)
            await self._leave(mine)
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

    async def presence(self) -> dict[str, Presence]:
        """Who is logged in where: our record, or while the database is away its last reading with the changes
        made since."""
        async def read() -> dict[str, Presence]:
            await self.outbox.write()  # first what waits, so that the record read is the whole of it
            return await self.store.presence()

        self._known = await self._from_database(read, self._known, "seats as last known")
        return dict(self._known)

    async def agent(self, agent_id: str) -> Agent | None:
        """The agent's record, or while the database is away the one last read (every agent who took a seat)."""
        try:
            found = await self._read_agent(agent_id)
        except DatabaseUnavailable:
            if agent_id not in self._known_agents:
                raise
            return self._known_agents[agent_id]
        if found is not None:
            self._known_agents[agent_id] = found
        return found

    async def reconcile(self) -> list[Fix]:
        """Bring Asterisk's queue in line with our record (after a re-read of the queue state)."""
        async with self._changing:
            wanted = await self.presence()
            self._known_agents = await self._from_database(
                self._agents_by_id, self._known_agents, "agents' skills as last known")
            agents = self._known_agents
            queues_of = {}
            for presence in wanted.values():
                try:
                    queues_of[presence.agent_id] = self.queues_of(agents[presence.agent_id], presence.seat)
                except (KeyError, NoLine, ValueError) as exc:
                    logger.warning("agent %s on seat %s belongs in no queue: %s", presence.agent_id,
                                   presence.seat, exc)
            fixes = reconcile(wanted, self._members(), queues_of)
            for fix in fixes:
                logger.info("seat %s: %s agent %s to match our record", fix.seat, fix.action, fix.agent_id)
                try:
                    await self._apply(fix)
                except TelephonyUnavailable as exc:
                    logger.warning("seat %s not fixed: %s", fix.seat, exc)
            return fixes

    async def _agents_by_id(self) -> dict[str, Agent]:
        return {agent.id: agent for agent in await self.store.all()}

    async def _read_agent(self, agent_id: str) -> Agent | None:
        try:
            async with asyncio.timeout(DATABASE_WAIT_SECONDS):
                return await self.store.get(agent_id)
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailable(f"agent {agent_id} cannot be read while the database is away: {exc}",
                                      agent_id=agent_id) from exc

    async def _from_database(self, read: Callable[[], Awaitable[T]], known: T, instead: str) -> T:
        try:
            async with asyncio.timeout(DATABASE_WAIT_SECONDS):
                return await read()
        except DATABASE_ERRORS as exc:
            logger.warning("database unavailable, %s: %s", instead, exc or type(exc).__name__)
            return known

    def _members(self) -> list[Member]:
        return [
            Member(name, interface.removeprefix("PJSIP/"), member.name, member.paused, member.penalty)
            for name, view in self.ami.queue_state.queues.items() if name in self.our_queues
            for interface, member in view.members.items()
        ]

    async def _leave(self, presence: Presence) -> None:
        for queue in sorted(self.our_queues):
            await self._apply(Fix("remove", presence.seat, presence.agent_id, queue=queue))

    async def _agent(self, agent_id: str) -> Agent:
        """The active agent, read from the database (a log-in does not go by what was read before)."""
        agent = await self._read_agent(agent_id)
        if agent is None or not agent.active:
            raise UnknownAgent(f"no active agent {agent_id}", agent_id=agent_id)
        self._known_agents[agent_id] = agent
        return agent

    async def _present(self, agent_id: str) -> Presence:
        mine = (await self.presence()).get(agent_id)
        if mine is None:
            raise NotLoggedIn(f"agent {agent_id} is not logged in to a seat", agent_id=agent_id)
        return mine

    async def _record(self, agent_id: str, seat: str, kind: str, reason: str | None = None) -> None:
        """Into our record now, or once the database is back (Asterisk has been told already)."""
        event = SeatEvent(agent_id, seat, kind, reason, datetime.now(UTC))
        self._known = presence_from_events([event], self._known)
        self.outbox.add(event)
        try:
            async with asyncio.timeout(DATABASE_WAIT_SECONDS):
                await self.outbox.write()
        except DATABASE_ERRORS as exc:
            logger.warning("seat %s: %s of agent %s kept until the database is back (%s)", seat, kind, agent_id,
                           exc or type(exc).__name__)

    async def _apply(self, fix: Fix) -> None:
        interface = SEAT_INTERFACE.format(seat=fix.seat)
        action = {"Interface": interface} | ({"Queue": fix.queue} if fix.queue else {})
        if fix.action == "add":
            action |= {"Action": "QueueAdd", "MemberName": fix.agent_id, "StateInterface": interface,
                       "Paused": "false", "Penalty": str(fix.penalty)}
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

