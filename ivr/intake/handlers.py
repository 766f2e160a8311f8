"""hotline-intake: the FastAGI step between Answer() and Queue() in the citizens' context."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from ivr import dialplan_variables as var
from ivr.calls.store import CallerHistory
from ivr.db.models import WorkOrder, as_utc
from ivr.fastagi import AgiCall, Router
from ivr.intake.context import CallContext
from ivr.intake.entry import chosen_line, entry_variables, first_entry

REPEAT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class CallerFacts:
    history: CallerHistory
    open_order: WorkOrder | None  # from the last routing.repeat_days days


async def hotline_intake(call: AgiCall, ctx: CallContext) -> None:
    """Greet at once (no voice menu in front of the agents: a key during the greeting picks another line),
    look the caller up meanwhile, and send them to their line, or back to the agent of their open order."""
    ctx.services.tracker.intake(call.uniqueid, call.caller_number, call.dialled_number)
    lookup = asyncio.create_task(_look_up(call, ctx))
    try:
        await call.set_variable(var.INTAKE, "ivr")
        key = await call.stream_file(ctx.prompt("greeting"), ctx.services.greeting_keys)
        await call.set_variable(var.GREETED, "1")
        facts = await lookup
    finally:
        lookup.cancel()
    line = chosen_line(ctx, key)
    order = facts.open_order if facts else None
    entry = first_entry(ctx, line, order.agent if order else None, flagged=order is not None)
    ctx.services.tracker.routed(call.uniqueid, line.queue, entry.priority)
    variables = {var.LINE: line.queue, **entry_variables(entry)}
    if key and key == ctx.settings.routing.progress_key:
        variables[var.NEXT] = var.NEXT_PROGRESS  # the dialplan runs hotline-progress before the queue
    if facts is not None:
        variables[var.PRIOR_CALLS] = str(facts.history.prior_calls)
        variables[var.REPEAT_CALLER] = "1" if _is_repeat(facts.history) else "0"
    await call.set_variables(variables)
    ctx.log.info("greeted %s (prior calls: %s), line %s, entering %s%s", call.caller_number,
                 facts.history.prior_calls if facts else "unknown", line.name, entry.queue,
                 f" for order {order.id} of agent {order.agent}" if order else "")


async def _look_up(call: AgiCall, ctx: CallContext) -> CallerFacts | None:
    """The caller's history and open order, or None if the database is slow or away: the call never waits."""
    try:
        async with asyncio.timeout(ctx.settings.fastagi.lookup_timeout):
            return CallerFacts(await ctx.caller_history(call), await ctx.open_order(call))
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        ctx.log.warning("caller look-up skipped: %s", type(exc).__name__)
        return None


def _is_repeat(history: CallerHistory) -> bool:
    last = history.last_call_at
    return last is not None and datetime.now(UTC) - as_utc(last) < REPEAT_WINDOW


def register(router: Router[CallContext]) -> None:
    router.add("hotline-intake", hotline_intake)
