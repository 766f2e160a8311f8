"""How a citizen's call ended, decided from what the queue reported."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # hung up while waiting in the queue
    TIMED_OUT = "timed_out"  # waited the longest allowed and left the queue unanswered
    HUNG_UP_BEFORE_QUEUE = "hung_up_before_queue"  # during the greeting
    REFUSED = "refused"  # dialled something other than the hotline from the citizens' side


@dataclass(frozen=True)
class QueueFacts:
    dialled_hotline: bool
    joined_queue: bool
    answered: bool
    abandoned: bool
    left_queue: bool


def final_outcome(facts: QueueFacts) -> Outcome:
    if not facts.dialled_hotline:
        return Outcome.REFUSED
    if facts.answered:
        return Outcome.ANSWERED
    if facts.abandoned:
        return Outcome.ABANDONED
    if facts.left_queue:
        return Outcome.TIMED_OUT
    if facts.joined_queue:
        # Hung up in the queue but the abandon event was lost (e.g. AMI reconnecting).
        return Outcome.ABANDONED
    return Outcome.HUNG_UP_BEFORE_QUEUE
