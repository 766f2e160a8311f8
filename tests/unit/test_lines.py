"""Skills routing: agents' skills, lines, penalties relaxing with the wait, the repeat caller's entry."""

from __future__ import annotations

import pytest

from routing.lines import (
    BadSkills,
    Entry,
    Line,
    Relax,
    direct_entry,
    line_entry,
    line_for_key,
    max_penalty_after,
    memberships,
    parse_skills,
    penalty_on,
    place_among,
)

GENERAL = Line("general", "q-general", "", ("general",), ())
ENTERPRISE = Line("enterprise", "q-enterprise", "1", ("enterprise",), ("general",))
ENGLISH = Line("english", "q-english", "9", ("general", "english"), ("specialist",))
LINES = [GENERAL, ENTERPRISE, ENGLISH]
STEPS = [Relax(0, 9), Relax(60, 10), Relax(120, 20)]


def test_skills_with_and_without_a_level() -> None:
    assert parse_skills("general, dialect:2,english:0,,") == {"general": 0, "dialect": 2, "english": 0}
    assert parse_skills("") == {}


@pytest.mark.parametrize("text", ["general:10", "general:-1", "general:x", "gen eral", "general:1:2"])
def test_bad_skills_say_which(text: str) -> None:
    with pytest.raises(BadSkills, match="skill"):
        parse_skills(text)


def test_penalty_is_the_worst_level_among_the_lines_skills() -> None:
    assert penalty_on(ENGLISH, {"general": 1, "english": 3}, 10) == 3
    assert penalty_on(GENERAL, {"general": 0}, 10) == 0


def test_fallback_skill_serves_the_line_at_the_fallback_penalty() -> None:
    assert penalty_on(ENTERPRISE, {"general": 0}, 10) == 10
    assert penalty_on(ENGLISH, {"general": 0}, 10) is None, "general alone is not English"
    assert penalty_on(ENGLISH, {"specialist": 0}, 10) == 10


def test_memberships_list_every_line_served() -> None:
    assert memberships(LINES, {"general": 0, "enterprise": 2}, 10) == {"q-general": 0, "q-enterprise": 2}
    assert memberships(LINES, {"general": 1, "english": 0}, 10) == {"q-general": 1, "q-enterprise": 10,
                                                                    "q-english": 1}
    assert memberships(LINES, {"dialect": 0}, 10) == {}


def test_a_key_chooses_its_line_anything_else_the_default() -> None:
    assert line_for_key(LINES, "1") is ENTERPRISE
    assert line_for_key(LINES, "9") is ENGLISH
    assert line_for_key(LINES, "") is GENERAL
    assert line_for_key(LINES, "5") is GENERAL


@pytest.mark.parametrize(("waited", "expected"), [(0, 9), (59.9, 9), (60, 10), (119, 10), (120, 20), (9999, 20)])
def test_the_penalty_allowed_rises_with_the_wait(waited: float, expected: int) -> None:
    assert max_penalty_after(waited, STEPS) == expected


def test_a_line_entry_carries_the_relaxed_penalty_and_the_priority() -> None:
    assert line_entry(ENTERPRISE, 75, STEPS, 30, priority=10) == Entry("q-enterprise", 10, 0, 10, 30)
    assert line_entry(GENERAL, 0, STEPS, 30) == Entry("q-general", 0, 0, 9, 30)


def test_a_direct_entry_rings_one_seat_for_one_ring_timeout() -> None:
    assert direct_entry("q-direct", 17, 10, 15) == Entry("q-direct", 10, 17, 17, 17)


def test_place_counts_higher_priority_first_then_earlier_arrivals() -> None:
    others = [(0, 100.0), (0, 200.0), (10, 300.0)]
    assert place_among((0, 150.0), others) == 3  # the priority caller and the one from 100 s
    assert place_among((10, 400.0), others) == 2  # only the earlier priority caller
    assert place_among((10, 250.0), others) == 1
    assert place_among((0, 50.0), []) == 1
