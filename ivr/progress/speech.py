"""What the progress query says about an order, as prompt names. Only static pieces (the number's digits,
the state, the due date), so every prompt is generated at setup; names and replies are for an agent to read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.db.models import as_utc
from routing import lifecycle


@dataclass(frozen=True)
class OrderProgress:
    """An order as the progress query reads it out."""

    id: int
    number: str
    status: str
    due_at: datetime | None


def order_prompts(order: OrderProgress, now: datetime, zone: ZoneInfo) -> list[str]:
    return [*number_prompts(order.number), f"progress-state-{order.status}", *due_prompts(order, now, zone)]


def number_prompts(number: str) -> list[str]:
    return [f"digit-{digit}" for digit in number if digit.isdigit()]


def due_prompts(order: OrderProgress, now: datetime, zone: ZoneInfo) -> list[str]:
    """预计十二月一日前办结 while the order is open and has a deadline (the centre's local date); past it,
    that it is being chased (督办) rather than a date gone by."""
    if order.status not in lifecycle.OPEN or order.due_at is None:
        return []
    due = as_utc(order.due_at)
    if due < now:
        return ["progress-overdue"]
    local = due.astimezone(zone)
    return ["progress-due", f"month-{local.month}", f"day-{local.day}", "progress-due-end"]
