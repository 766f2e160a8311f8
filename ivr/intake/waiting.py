"""hotline-waiting: between two stretches in the queue, the caller hears their place and expected wait,
and, when the wait is long, may keep their place and hang up to be called back."""

from __future__ import annotations

from datetime import UTC, datetime

from ivr import dialplan_variables as var
from ivr.ami.originate import refused_kind
from ivr.fastagi import AgiCall, Router
from ivr.intake.context import CallContext
from ivr.intake.entry import entry_variables, line_named, next_entry
from routing.callbacks import callback_day
from routing.estimate import expected_wait_seconds, place_prompt, wait_prompt

KEY_WAIT_MS = 5000
CALLBACK_KEY = "1"
VOICEMAIL_KEY = "2"


async def hotline_waiting(call: AgiCall, ctx: CallContext) -> None:
    record = ctx.services.tracker.live.get(call.uniqueid)
    line = line_named(ctx, record.line if record else await call.get_variable(var.LINE))
    waited = (datetime.now(UTC) - record.enqueued_at).total_seconds() if record and record.enqueued_at else 0.0
    entry = next_entry(ctx, line, waited, record.priority if record else 0)
    place = ctx.services.tracker.queue_position(call.uniqueid)
    await call.set_variables({**entry_variables(entry), var.POSITION: str(place)})
    wait = await _expected_wait(ctx, line.queue, place)
    if wait > ctx.settings.queue.overflow_wait_seconds and _may_call_back(call, ctx):
        key = await call.get_data(ctx.prompt("overflow-offer"), KEY_WAIT_MS, 1)
        if key == CALLBACK_KEY:
            await _keep_place_for_callback(call, ctx)
            return
        if key == VOICEMAIL_KEY:
            ctx.services.tracker.left_voicemail(call.uniqueid)
            await call.set_variable(var.NEXT, "voicemail")
            return
    await call.stream_file(ctx.prompt(place_prompt(place)))
    await call.stream_file(ctx.prompt(wait_prompt(wait)))
    ctx.log.info("place %d on %s, expected wait %.0f s, agents up to penalty %d", place, line.name, wait,
                 entry.max_penalty)


async def _expected_wait(ctx: CallContext, queue_name: str, place: int) -> float:
    queue = ctx.services.queue_state.queues.get(queue_name) if ctx.services.queue_state else None
    members = list(queue.members.values()) if queue else []
    taking = sum(1 for m in members if not m.paused and m.status not in ("unavailable", "invalid", "unknown"))
    free = sum(1 for m in members if m.available)
    wrapup = float(ctx.settings.queue.wrapup_seconds)
    handle = await ctx.services.store.recent_handle_seconds(wrapup) or float(ctx.settings.queue.default_handle_seconds)
    return expected_wait_seconds(place, taking, free, handle)


def _may_call_back(call: AgiCall, ctx: CallContext) -> bool:
    """A callback is offered only to a number the outbound rules would dial (not 110, not abroad…)."""
    return ctx.services.callbacks is not None and refused_kind(ctx.settings, call.caller_number, "callback") is None


async def _keep_place_for_callback(call: AgiCall, ctx: CallContext) -> None:
    assert ctx.services.callbacks is not None
    record = ctx.services.tracker.live.get(call.uniqueid)
    now = datetime.now(UTC)
    since = record.enqueued_at if record and record.enqueued_at else now
    day = callback_day(now, ctx.settings.timezone)
    await ctx.services.callbacks.add_requested(call.caller_number, day, call.uniqueid, since, now)
    ctx.services.tracker.callback_requested(call.uniqueid)
    ctx.log.info("callback requested, place kept from %s", since.isoformat())
    await call.set_variable(var.NEXT, "done")
    await call.stream_file(ctx.prompt("callback-accepted"))


def register(router: Router[CallContext]) -> None:
    router.add("hotline-waiting", hotline_waiting)
