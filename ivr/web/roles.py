"""Who may use the supervisors' pages (campaigns, reports, staffing, the wallboard): the centre's supervisors and
administrators; anyone else gets a 403 that says what the page is for."""

from __future__ import annotations

from aiohttp import web

from ivr.agents.errors import AgentError
from ivr.workorders.actors import ADMINISTRATOR, SUPERVISOR, Actor
from ivr.workorders.routes import current_actor


class NotForRole(AgentError):
    status = 403
    error_id = "not-for-role"


async def supervisor(request: web.Request, refusal: str) -> Actor:
    """The session's supervisor or administrator; NotForRole(refusal) for anyone else."""
    actor = await current_actor(request)
    if actor.role not in (SUPERVISOR, ADMINISTRATOR):
        raise NotForRole(refusal)
    return actor
