"""How a caller enters the queue: the line they chose, who may answer after how long, and the repeat caller's
way back to the agent who took their order. The decisions are routing's; this module feeds them live data."""

from __future__ import annotations

from ivr import dialplan_variables as var
from ivr.intake.context import CallContext
from routing.lines import Entry, Line, direct_entry, line_entry, line_for_key


def chosen_line(ctx: CallContext, key: str) -> Line:
    """The line of the key pressed; the default line when no agent of that line is logged in at all."""
    lines = ctx.services.lines
    line = line_for_key(lines, key)
    if line.key and not _members_of(ctx, line.queue):
        ctx.log.info("line %s has nobody logged in: the caller goes to the default line", line.name)
        return line_for_key(lines, "")
    return line


def first_entry(ctx: CallContext, line: Line, order_agent: str | None, flagged: bool) -> Entry:
    """A flagged repeat caller rings the agent of their open order if that agent is free, else waits at the
    front of the line; anyone else waits their turn on the line."""
    settings = ctx.settings
    priority = settings.routing.repeat_priority if flagged else 0
    seat = _free_seat_of(ctx, order_agent) if order_agent else None
    if seat is not None:
        return direct_entry(settings.direct_queue, seat, priority, settings.queue.ring_seconds)
    return line_entry(line, 0, ctx.services.relax, settings.queue.announce_seconds, priority)


def next_entry(ctx: CallContext, line: Line, waited: float, priority: int) -> Entry:
    return line_entry(line, waited, ctx.services.relax, ctx.settings.queue.announce_seconds, priority)


def line_named(ctx: CallContext, queue: str | None) -> Line:
    lines = ctx.services.lines
    return next((line for line in lines if line.queue == queue), line_for_key(lines, ""))


def entry_variables(entry: Entry) -> dict[str, str]:
    """What the dialplan's Queue() step reads, to be set with the step's other variables in one go."""
    return {
        var.QUEUE: entry.queue,
        var.QUEUE_PRIO: str(entry.priority),
        var.QUEUE_MIN_PENALTY: str(entry.min_penalty),
        var.QUEUE_MAX_PENALTY: str(entry.max_penalty),
        var.STRETCH: str(entry.stretch_seconds),
    }


def _members_of(ctx: CallContext, queue: str) -> int:
    state = ctx.services.queue_state
    view = state.queues.get(queue) if state else None
    return len(view.members) if view else 0


def _free_seat_of(ctx: CallContext, agent_id: str) -> int | None:
    """The agent's seat index in the direct queue when the agent is there and free."""
    state = ctx.services.queue_state
    view = state.queues.get(ctx.settings.direct_queue) if state else None
    member = next((m for m in view.members.values() if m.name == agent_id), None) if view else None
    return member.penalty if member is not None and member.available else None
