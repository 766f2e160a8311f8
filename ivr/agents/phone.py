"""Feature codes on a seat's phone: the agent logs in, out, pauses and resumes without the desk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ivr.agents.errors import AgentError, TooManyAttempts
from ivr.agents.service import AgentService
from ivr.fastagi import AgiCall, Router
from ivr.intake.context import CallContext
from ivr.web.logins import AGENT, LoginThrottle

KEY_WAIT_MS = 6000
PHONE_PAUSE_REASON = "break"


def seat_of(call: AgiCall) -> str:
    """The seat is the authenticated endpoint the call comes from: PJSIP/8001-00000012 → 8001."""
    return call.env.get("agi_channel", "").removeprefix("PJSIP/").rsplit("-", 1)[0]


def _service(ctx: CallContext) -> AgentService:
    if ctx.services.agents is None:
        raise AgentError("agent feature codes are not wired in this server")
    return ctx.services.agents


def _throttle(ctx: CallContext) -> LoginThrottle:
    if ctx.services.logins is None:
        raise AgentError("the log-in throttle is not wired in this server")
    return ctx.services.logins


async def agent_login(call: AgiCall, ctx: CallContext) -> None:
    """One try per call (the dialplan hangs up after it); failures count against the agent id and the seat
    like the desk's, and a locked id or seat hears the failure prompt without its PIN being checked."""
    agent_id = await call.get_data(ctx.prompt("enter-agent-id"), KEY_WAIT_MS, 10)
    pin = await call.get_data(ctx.prompt("enter-pin"), KEY_WAIT_MS, 6)
    service, seat = _service(ctx), seat_of(call)
    try:
        agent = await _throttle(ctx).attempt(AGENT, agent_id, f"seat {seat}",
                                             lambda: service.store.check_pin(agent_id, pin)) if agent_id else None
    except TooManyAttempts as exc:
        ctx.log.warning("phone log-in for agent %r on seat %s throttled: %s", agent_id, seat, exc)
        await call.stream_file(ctx.prompt("login-failed"))
        return
    if agent is None:
        ctx.log.warning("phone log-in refused for agent %r on seat %s", agent_id, seat)
        await call.stream_file(ctx.prompt("login-failed"))
        return
    await _say_after(call, ctx, lambda: service.login(agent_id, seat), "logged-in")


async def agent_logout(call: AgiCall, ctx: CallContext) -> None:
    await _on_my_seat(call, ctx, _service(ctx).logout, "logged-out")


async def agent_pause(call: AgiCall, ctx: CallContext) -> None:
    service = _service(ctx)
    await _on_my_seat(call, ctx, lambda agent_id: service.pause(agent_id, PHONE_PAUSE_REASON), "paused")


async def agent_resume(call: AgiCall, ctx: CallContext) -> None:
    await _on_my_seat(call, ctx, _service(ctx).resume, "resumed")


async def _on_my_seat(call: AgiCall, ctx: CallContext, act: Callable[[str], Awaitable[object]],
                      done_prompt: str) -> None:
    """Whoever is logged in to the calling seat is the agent the code acts for."""
    seat = seat_of(call)
    present = await _service(ctx).presence()  # the last known seats while the database is away
    agent = next((p.agent_id for p in present.values() if p.seat == seat), None)
    if agent is None:
        await call.stream_file(ctx.prompt("not-logged-in"))
        return
    await _say_after(call, ctx, lambda: act(agent), done_prompt)


async def _say_after(call: AgiCall, ctx: CallContext, act: Callable[[], Awaitable[object]],
                     done_prompt: str) -> None:
    try:
        await act()
    except AgentError as exc:
        ctx.log.warning("seat %s: %s", seat_of(call), exc)
        await call.stream_file(ctx.prompt("seat-refused"))
        return
    ctx.log.info("seat %s: %s", seat_of(call), done_prompt)
    await call.stream_file(ctx.prompt(done_prompt))


def register(router: Router[CallContext]) -> None:
    router.add("agent-login", agent_login)
    router.add("agent-logout", agent_logout)
    router.add("agent-pause", agent_pause)
    router.add("agent-resume", agent_resume)
