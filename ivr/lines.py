"""The service lines of the settings as routing sees them, and a seat's index in the direct queue."""

from __future__ import annotations

from ivr.settings import Settings
from routing.lines import Line, Relax


def lines_of(settings: Settings) -> list[Line]:
    return [Line(line.name, settings.line_queue(line), line.key, line.skills, line.fallback)
            for line in settings.routing.lines]


def seat_index(settings: Settings, seat: str) -> int:
    return int(seat) - settings.sip.first_seat + 1


def relax_steps(settings: Settings) -> list[Relax]:
    return [Relax(step.after_seconds, step.max_penalty) for step in settings.routing.relax]
