"""hotline-intake: the FastAGI step between Answer() and Queue() in the citizens' context."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from ivr import dialplan_variables as var
from ivr.calls.store import CallerHistory
from ivr.db.models import as_utc
from ivr.fastagi import AgiCall, Router
from ivr.intake.context import CallContext

REPEAT_WINDOW = timedelta(hours=24)


async def hotline_intake(call: AgiCall, ctx: CallContext) -> None:
    """Greet at once (no voice menu in front of the agents), look the caller up meanwhile, mark the call."""
    ctx.services.tracker.intake(call.uniqueid, call.caller_number, call.dialled_number)
    lookup = asyncio.create_task(_look_up(call, ctx))
    try:
        await call.set_variable(var.INTAKE, "ivr")
        await call.stream_file(ctx.prompt("greeting"))
        await call.set_variable(var.GREETED, "1")
        history = await lookup
    finally:
        lookup.cancel()
    if history is not None:
        await call.set_variable(var.PRIOR_CALLS, str(history.prior_calls))
        await call.set_variable(var.REPEAT_CALLER, "1" if _is_repeat(history) else "0")
    ctx.log.info("greeted %s, prior calls: %s", call.caller_number, history.prior_calls if history else "unknown")


async def _look_up(call: AgiCall, ctx: CallContext) -> CallerHistory | None:
    """The caller's history, or None if the database is slow or away: the call never waits for it."""
    try:
        async with asyncio.timeout(ctx.settings.fastagi.lookup_timeout):
            return await ctx.caller_history(call)
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        ctx.log.warning("caller look-up skipped: %s", type(exc).__name__)
        return None


def _is_repeat(history: CallerHistory) -> bool:
    last = history.last_call_at
    return last is not None and datetime.now(UTC) - as_utc(last) < REPEAT_WINDOW


def register(router: Router[CallContext]) -> None:
    router.add("hotline-intake", hotline_intake)
