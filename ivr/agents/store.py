"""Agents and their seat events in the database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.agents.errors import AgentExists, BadAgentId, BadAgentSkills, UnknownAgent
from ivr.agents.pins import hash_pin, new_pin, verify_pin_off_loop
from ivr.db.models import Agent, AgentEvent, as_utc
from routing.lines import BadSkills, parse_skills
from routing.seats import Presence, SeatEvent, presence_from_events

ROLES = ("agent", "supervisor")


class AgentStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, agent_id: str, name: str, skills: Iterable[str] = ("general",), role: str = "agent") -> str:
        """Create an agent with a new PIN; returns the PIN (shown once, only its hash is kept)."""
        if not agent_id.isdigit():
            raise BadAgentId(f"agent id {agent_id!r}: digits only, so that it can be keyed on a phone")
        pin = new_pin()
        if role not in ROLES:
            raise BadAgentId(f"role {role!r}: one of {', '.join(ROLES)}")
        values = {"id": agent_id, "name": name, "pin_hash": hash_pin(pin), "skills": _skills_text(skills),
                  "active": True, "role": role, "created_at": datetime.now(UTC)}
        try:
            async with self.engine.begin() as connection:
                await connection.execute(insert(Agent).values(**values))
        except IntegrityError:
            raise AgentExists(f"agent {agent_id} exists already", agent_id=agent_id) from None
        return pin

    async def reset_pin(self, agent_id: str) -> str:
        """A new PIN for the agent (shown once); the old one stops working."""
        pin = new_pin()
        async with self.engine.begin() as connection:
            result = await connection.execute(update(Agent).where(Agent.id == agent_id).values(pin_hash=hash_pin(pin)))
        if result.rowcount == 0:
            raise UnknownAgent(f"no agent {agent_id}", agent_id=agent_id)
        return pin

    async def set_skills(self, agent_id: str, skills: Iterable[str]) -> None:
        """New skills take effect in Asterisk's queues at the next reconcile (AgentService.reconcile)."""
        text = _skills_text(skills)
        async with self.engine.begin() as connection:
            result = await connection.execute(update(Agent).where(Agent.id == agent_id).values(skills=text))
        if result.rowcount == 0:
            raise UnknownAgent(f"no agent {agent_id}", agent_id=agent_id)

    async def get(self, agent_id: str) -> Agent | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(Agent).where(Agent.id == agent_id))).first()
        return Agent(**row._asdict()) if row is not None else None

    async def all(self) -> list[Agent]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(Agent).order_by(Agent.id))).all()
        return [Agent(**row._asdict()) for row in rows]

    async def check_pin(self, agent_id: str, pin: str) -> Agent | None:
        """The agent if the PIN is theirs. An unknown or inactive agent costs the same verification time."""
        agent = await self.get(agent_id)
        usable = agent if agent is not None and agent.active else None
        if not await verify_pin_off_loop(pin, usable.pin_hash if usable else None):
            return None
        return usable

    async def record(self, event: SeatEvent) -> None:
        """Idempotent: an event written before (same agent, seat, kind and moment) is not written again."""
        same = (AgentEvent.agent_id == event.agent_id, AgentEvent.seat == event.seat, AgentEvent.kind == event.kind,
                AgentEvent.at == event.at)
        async with self.engine.begin() as connection:
            if (await connection.execute(select(AgentEvent.id).where(*same))).first() is None:
                await connection.execute(insert(AgentEvent).values(
                    agent_id=event.agent_id, seat=event.seat, kind=event.kind, reason=event.reason, at=event.at))

    async def presence(self) -> dict[str, Presence]:
        """Who is logged in where, replayed from each agent's latest log-in on."""
        last_login = (
            select(AgentEvent.agent_id, func.max(AgentEvent.id).label("first_id"))
            .where(AgentEvent.kind == "login")
            .group_by(AgentEvent.agent_id)
            .subquery()
        )
        query = (
            select(AgentEvent)
            .join(last_login, AgentEvent.agent_id == last_login.c.agent_id)
            .where(AgentEvent.id >= last_login.c.first_id)
            .order_by(AgentEvent.id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return presence_from_events(
            SeatEvent(row.agent_id, row.seat, row.kind, row.reason, as_utc(row.at)) for row in rows
        )


def _skills_text(skills: Iterable[str]) -> str:
    text = ",".join(skill.strip() for skill in skills)
    try:
        parse_skills(text)
    except BadSkills as exc:
        raise BadAgentSkills(str(exc), skills=text) from None
    return text
