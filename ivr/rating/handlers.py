"""hotline-rating: after the agent hangs up, the citizen stays on the line and rates the call."""

from __future__ import annotations

from ivr.fastagi import AgiCall, Router
from ivr.intake.context import CallContext
from routing.rating import rating_for

WAIT_FOR_KEY_MS = 5000
ATTEMPTS = 2


async def hotline_rating(call: AgiCall, ctx: CallContext) -> None:
    """Ask once, ask again if no valid key, then thank the caller and hang up."""
    rating = None
    for _attempt in range(ATTEMPTS):
        rating = rating_for(await call.get_data(ctx.prompt("rating"), WAIT_FOR_KEY_MS, 1))
        if rating is not None:
            break
    if rating is not None:
        ctx.services.tracker.rated(call.uniqueid, rating)
        ctx.log.info("rated %s", rating)
        await call.stream_file(ctx.prompt("rating-thanks"))
    else:
        ctx.log.info("no rating given")
    await call.hangup()


def register(router: Router[CallContext]) -> None:
    router.add("hotline-rating", hotline_rating)
