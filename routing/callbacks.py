"""Callbacks (回拨): when to dial, how many, and what an attempt's result means. Pure logic.

A missed call (hung up while queued, or timed out) becomes one callback task per number per day.
Callbacks never jump ahead of callers who are waiting: one is dialled only when an agent is free and
nobody is queued, and never more at once than there are free agents.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from routing.call_outcome import Outcome

MISSED_OUTCOMES = ("abandoned", "timed_out")
# A number the outbound rules (routing/dialable.py) refuse: recorded with its kind as the reason, never dialled.
NOT_DIALLED = "not_dialled"
STATUS_LABELS = {"pending": "待回拨", "dialling": "回拨中", "answered": "已接通", "given_up": "未接通，已放弃",
                 "unknown": "结果未知", NOT_DIALLED: "不予回拨"}

# The result of a dial whose OriginateResponse never reached a server (the one dialling stopped or died, or lost
# its AMI connection): it counts as the attempt it was, so the usual retry rule dials it again or gives it up.
RESULT_LOST = "result_lost"

# AMI OriginateResponse Reason codes (Asterisk's AST_CONTROL_*), as callback results.
ORIGINATE_REASONS = {"0": "failed", "1": "hung_up", "3": "no_answer", "4": "answered", "5": "busy", "8": "congestion"}


def callback_day(moment: datetime, timezone: str) -> str:
    """The centre's calendar day: 'one callback per number per day' is counted in local time."""
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


def dials_allowed(free_agents: int, waiting_callers: int, dialling: int) -> int:
    if waiting_callers > 0:
        return 0
    return max(0, free_agents - dialling)


def after_attempt(result: str, attempts: int, max_attempts: int, now: datetime,
                  retry: timedelta) -> tuple[str, datetime | None]:
    """(status, next attempt) after an attempt ended with `result`."""
    if result == "answered":
        return "answered", None
    if attempts >= max_attempts:
        return "given_up", None
    return "pending", now + retry


def stale_dial_result(agent: str | None, call_outcome: str | None) -> str | None:
    """What a dial whose result never came did, from its channel: 'answered' if it reached an agent (the
    AgentConnect was seen, or its call row says so), None while that call is still up (its end decides),
    else RESULT_LOST."""
    if agent or call_outcome == Outcome.ANSWERED:
        return "answered"
    if call_outcome == Outcome.IN_PROGRESS:
        return None
    return RESULT_LOST
