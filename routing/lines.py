"""Skills-based routing: which line a caller is on, which agents serve it, and how that widens with waiting.

Each service line (general, enterprise, dialect, a language…) is its own Asterisk queue. An agent is a
member of every line they have the skills for, with a penalty: their level in the line's skills (0 is the
best; app_queue offers the call to the lowest penalty that is free), or `fallback_penalty` when they
serve the line only through one of its fallback skills. What a waiting caller may be answered by is the
caller's QUEUE_MAX_PENALTY, raised step by step with the wait (the relax steps); so a dialect caller is
first offered to dialect seats, and after a minute to any general seat too. All of it is data in the
settings (routing.lines, routing.relax).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_SKILL_LEVEL = 9


class BadSkills(ValueError):
    """An agent's skills are written wrongly; the message says which part."""


@dataclass(frozen=True)
class Line:
    name: str
    queue: str
    key: str
    skills: tuple[str, ...]
    fallback: tuple[str, ...]


@dataclass(frozen=True)
class Relax:
    after_seconds: int
    max_penalty: int


def parse_skills(text: str) -> dict[str, int]:
    """'general,dialect:2' → {'general': 0, 'dialect': 2}: a skill, optionally with its penalty (0–9)."""
    skills: dict[str, int] = {}
    for part in (item.strip() for item in text.split(",")):
        if not part:
            continue
        name, _, level = part.partition(":")
        if not name.replace("-", "").replace("_", "").isalnum():
            raise BadSkills(f"skill {name!r}: letters, digits, - and _ only")
        if level and not (level.isdigit() and int(level) <= MAX_SKILL_LEVEL):
            raise BadSkills(f"skill {name!r}: the level after ':' is a penalty from 0 (best) to {MAX_SKILL_LEVEL}")
        skills[name] = int(level or 0)
    return skills


def penalty_on(line: Line, skills: Mapping[str, int], fallback_penalty: int) -> int | None:
    """The agent's penalty on the line, or None when the agent does not serve it."""
    if all(skill in skills for skill in line.skills):
        return max((skills[skill] for skill in line.skills), default=0)
    if any(skill in skills for skill in line.fallback):
        return fallback_penalty
    return None


def memberships(lines: Sequence[Line], skills: Mapping[str, int], fallback_penalty: int) -> dict[str, int]:
    """Queue → penalty for every line the agent serves."""
    found = {line.queue: penalty_on(line, skills, fallback_penalty) for line in lines}
    return {queue: penalty for queue, penalty in found.items() if penalty is not None}


def line_for_key(lines: Sequence[Line], key: str) -> Line:
    """The line a key pressed during the greeting chooses; no key (or an unknown one): the default line."""
    default = next(line for line in lines if not line.key)
    return next((line for line in lines if key and line.key == key), default)


def max_penalty_after(waited_seconds: float, steps: Sequence[Relax]) -> int:
    reached = [step.max_penalty for step in steps if step.after_seconds <= waited_seconds]
    return reached[-1] if reached else steps[0].max_penalty


# A direct ring to one agent lasts one ring timeout and a little: then the caller goes to the front of the line.
DIRECT_GRACE_SECONDS = 2


@dataclass(frozen=True)
class Entry:
    """How the caller enters Asterisk's Queue() for the next stretch of waiting."""

    queue: str
    priority: int  # QUEUE_PRIO: a higher one is placed ahead
    min_penalty: int  # QUEUE_MIN_PENALTY / QUEUE_MAX_PENALTY: which members may be offered the call
    max_penalty: int
    stretch_seconds: int  # Queue()'s timeout: then our code speaks to the caller again


def line_entry(line: Line, waited_seconds: float, steps: Sequence[Relax], announce_seconds: int,
               priority: int = 0) -> Entry:
    return Entry(line.queue, priority, 0, max_penalty_after(waited_seconds, steps), announce_seconds)


def direct_entry(direct_queue: str, seat_index: int, priority: int, ring_seconds: int) -> Entry:
    """Ring the one agent whose seat has this index in the direct queue (min = max penalty = the index)."""
    return Entry(direct_queue, priority, seat_index, seat_index, ring_seconds + DIRECT_GRACE_SECONDS)


def place_among(mine: tuple[int, float], others: Sequence[tuple[int, float]]) -> int:
    """1 + the callers ahead: those with a higher priority, then those of equal priority who came earlier.

    Each caller is (priority, first entered the queue, as a timestamp)."""
    priority, since = mine
    return 1 + sum(1 for other_priority, other_since in others
                   if other_priority > priority or (other_priority == priority and other_since < since))
