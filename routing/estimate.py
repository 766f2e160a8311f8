"""The caller's expected wait, from live data: their place, the agents taking calls, recent handle times.

Not app_queue's estimate (a running average of hold times, blind to how many agents are on): with n
agents taking calls and an average handle time h, the caller at place p waits about p·h/n, and next to
nothing when an agent is free right now.
"""

from __future__ import annotations

import math


def expected_wait_seconds(place: int, agents_taking_calls: int, agents_free: int, handle_seconds: float) -> float:
    if agents_free >= place:
        return 0.0
    if agents_taking_calls == 0:
        return math.inf
    return place * handle_seconds / agents_taking_calls


def wait_in_minutes(seconds: float) -> int | None:
    """Whole minutes to announce (rounded up); None when it cannot be estimated (nobody taking calls)."""
    if math.isinf(seconds):
        return None
    return max(1, math.ceil(seconds / 60))



def place_prompt(place: int) -> str:
    return f"place-{place}" if place <= 10 else "place-many"


def wait_prompt(seconds: float) -> str:
    minutes = wait_in_minutes(seconds)
    if minutes is None:
        return "wait-unknown"
    return f"wait-{minutes}" if minutes <= 9 else "wait-many"
