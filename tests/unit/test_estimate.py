"""routing.estimate: the expected wait from live data, and what is announced."""

from __future__ import annotations

import math

import pytest

from routing.estimate import expected_wait_seconds, place_prompt, wait_prompt


@pytest.mark.parametrize(
    ("place", "taking", "free", "handle", "expected"),
    [(1, 2, 1, 180, 0.0), (3, 2, 0, 180, 270.0), (1, 0, 0, 180, math.inf), (2, 4, 0, 60, 30.0)],
)
def test_expected_wait(place: int, taking: int, free: int, handle: float, expected: float) -> None:
    assert expected_wait_seconds(place, taking, free, handle) == expected


def test_announced_place_and_wait() -> None:
    assert [place_prompt(p) for p in (1, 2, 10, 11)] == ["place-1", "place-2", "place-10", "place-many"]
    assert [wait_prompt(s) for s in (0, 61, 539, 541, math.inf)] == [
        "wait-1", "wait-2", "wait-9", "wait-many", "wait-unknown"]
