"""How a citizen's call ended, decided from what the queue reported."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # hung up while waiting in the queue
    TIMED_OUT = "timed_out"  # waited the longest allowed and left the queue unanswered
    CALLBACK_REQUESTED = "callback_requested"  # pressed the key to keep their place and be called back
    VOICEMAIL = "voicemail"  # left a message instead of waiting
    HUNG_UP_BEFORE_QUEUE = "hung_up_before_queue"  # during the greeting
    REFUSED = "refused"  # dialled something other than the hotline from the citizens' side


# The hang-up cause of a call whose end the server did not see (it, or its AMI connection, was away): its
# outcome was decided from what the record knew, and the queue log's replaces it.
VANISHED = "vanished"


@dataclass(frozen=True)
class QueueFacts:
    dialled_hotline: bool
    joined_queue: bool
    answered: bool
    abandoned: bool
    timed_out: bool  # the hotline ended the wait (queue.max_wait_seconds)
    callback_requested: bool = False
    voicemail: bool = False


def final_outcome(facts: QueueFacts) -> Outcome:
    if not facts.dialled_hotline:
        return Outcome.REFUSED
    if facts.answered:
        return Outcome.ANSWERED
    if facts.callback_requested:
        return Outcome.CALLBACK_REQUESTED
    if facts.voicemail:
        return Outcome.VOICEMAIL
    if facts.timed_out:
        return Outcome.TIMED_OUT
    if facts.joined_queue or facts.abandoned:
        # Hung up while waiting: in the queue, or between two stretches of it (an announcement).
        return Outcome.ABANDONED
    return Outcome.HUNG_UP_BEFORE_QUEUE
