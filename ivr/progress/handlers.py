"""hotline-progress: the caller pressed the progress key during the greeting. They hear their newest order,
may key in other order numbers (theirs only), and then go on to the agents (the dialplan's next step)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ivr.fastagi import AgiCall, Router
from ivr.intake.context import CallContext
from ivr.progress.lookup import QueryUnavailable, latest_order, order_of_caller, record_query
from ivr.progress.speech import OrderProgress, order_prompts

ANOTHER_KEY = "1"  # key in another order number
AGENT_KEY = "0"  # straight on to the agents
KEY_WAIT_MS = 5000  # for the first key, and between the keys of an order number
MAX_NUMBER_KEYS = 20  # order numbers have 14 digits; # ends them
QUERIES = 3  # other orders one call may ask for
# The caller chose this menu and keys in numbers: longer than fastagi.handler_timeout, still bounded.
TIME_LIMIT_SECONDS = 180.0


async def hotline_progress(call: AgiCall, ctx: CallContext) -> None:
    """Read out, offer another, read out; any other key, or none, ends the query (then the agents)."""
    try:
        key = await _newest(call, ctx)
        for _query in range(QUERIES):
            key = key or await call.get_data(ctx.prompt("progress-menu"), KEY_WAIT_MS, 1)
            if key != ANOTHER_KEY:
                break
            number = await call.get_data(ctx.prompt("progress-enter-number"), KEY_WAIT_MS, MAX_NUMBER_KEYS)
            key = await _requested(call, ctx, number)
    except QueryUnavailable as exc:
        ctx.log.warning("progress query unavailable: %s", exc)
        await call.stream_file(ctx.prompt("progress-unavailable"))


async def _newest(call: AgiCall, ctx: CallContext) -> str:
    order = await latest_order(ctx, call.caller_number)
    if order is None:
        ctx.log.info("progress query: no order to read for %s by number alone", call.caller_number)
        return await _say(call, ctx, ["progress-none"])
    return await _read_out(call, ctx, order, "progress-latest")


async def _requested(call: AgiCall, ctx: CallContext, number: str) -> str:
    if not number:
        return ""  # nothing keyed: the menu again
    order = await order_of_caller(ctx, number, call.caller_number)
    if order is None:
        ctx.log.info("progress query: order %s refused, not filed from %s", number, call.caller_number)
        return await _say(call, ctx, ["progress-not-found"])
    return await _read_out(call, ctx, order, "progress-requested")


async def _read_out(call: AgiCall, ctx: CallContext, order: OrderProgress, intro: str) -> str:
    """Recorded first: the citizen asked, even if they hang up while it is read."""
    await record_query(ctx, order, call.uniqueid)
    ctx.log.info("progress query: order %s (%s) read out", order.number, order.status)
    now = datetime.now(UTC)
    return await _say(call, ctx, [intro, *order_prompts(order, now, ZoneInfo(ctx.settings.timezone))])


async def _say(call: AgiCall, ctx: CallContext, prompts: Sequence[str]) -> str:
    """The prompts in turn; a menu key stops them and is returned (a caller who knows need not listen)."""
    for name in prompts:
        key = await call.stream_file(ctx.prompt(name), ANOTHER_KEY + AGENT_KEY)
        if key:
            return key
    return ""


def register(router: Router[CallContext]) -> None:
    router.add("hotline-progress", hotline_progress, time_limit=TIME_LIMIT_SECONDS)
