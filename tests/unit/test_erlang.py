"""routing.erlang: Erlang C against the classic worked example, the 40-seat table (docs/staffing.md), agents
needed for 80/20, shrinkage's rounding, no calls, loads far past what factorials survive, and bad input."""

from __future__ import annotations

import math

import pytest

from routing.erlang import BadStaffingInput, agents_needed, asa_seconds, service_level, traffic, wait_probability

HALF_HOUR, HOUR = 1800.0, 3600.0


def test_two_agents_one_erlang_by_hand() -> None:
    # P_w = (1²/2!·2/(2−1)) / (1 + 1 + 1) = 1/3; SL(0) = 2/3; ASA = (1/3)·60/(2−1) = 20 s.
    assert wait_probability(1.0, 2) == pytest.approx(1 / 3)
    assert service_level(1.0, 2, 60, 0) == pytest.approx(2 / 3)
    assert asa_seconds(1.0, 2, 60) == pytest.approx(20.0)


def test_the_classic_worked_example() -> None:
    # 360 calls per half hour, 4 min AHT, 55 agents, 15 s target.
    load = traffic(360, HALF_HOUR, 240)
    assert load == 48.0
    assert wait_probability(load, 55) == pytest.approx(0.239, abs=0.0005)
    assert service_level(load, 55, 240, 15) == pytest.approx(0.846, abs=0.0005)
    assert asa_seconds(load, 55, 240) == pytest.approx(8.2, abs=0.05)


@pytest.mark.parametrize(("calls_per_hour", "waiting", "level", "asa"), [
    (300, 0.004, 0.999, 0.1),
    (360, 0.055, 0.972, 1.7),
    (400, 0.191, 0.878, 8.6),
    (420, 0.315, 0.775, 18.9),
    (470, 0.849, 0.197, 305.7),
])
def test_forty_agents_at_five_minutes(calls_per_hour: int, waiting: float, level: float, asa: float) -> None:
    load = traffic(calls_per_hour, HOUR, 300)
    assert wait_probability(load, 40) == pytest.approx(waiting, abs=0.0005)
    assert service_level(load, 40, 300, 20) == pytest.approx(level, abs=0.0005)
    assert asa_seconds(load, 40, 300) == pytest.approx(asa, abs=0.05)


@pytest.mark.parametrize(("calls_per_hour", "agents"), [(300, 30), (400, 39), (480, 46), (600, 57)])
def test_agents_needed_for_80_20(calls_per_hour: int, agents: int) -> None:
    staffing = agents_needed(calls_per_hour, HOUR, 300, 20, 0.8)
    assert staffing.agents == agents
    assert staffing.service_level >= 0.8
    # One agent fewer would not do: the least N.
    assert service_level(staffing.traffic, agents - 1, 300, 20) < 0.8
    assert staffing.occupancy == pytest.approx(calls_per_hour * 300 / HOUR / agents)


def test_the_figures_of_the_agents_needed() -> None:
    staffing = agents_needed(360, HALF_HOUR, 240, 15, 0.8)
    assert (staffing.agents, staffing.traffic) == (55, 48.0)
    assert staffing.wait_probability == pytest.approx(0.239, abs=0.0005)
    assert staffing.asa_seconds == pytest.approx(8.2, abs=0.05)
    assert staffing.occupancy == pytest.approx(48 / 55)


@pytest.mark.parametrize(("shrinkage", "scheduled"), [(0.0, 30), (0.25, 40), (0.3, 43), (0.5, 60)])
def test_shrinkage_rounds_the_rota_up_but_not_a_whole_number(shrinkage: float, scheduled: int) -> None:
    # 30 agents: 30/0.75 = 40 exactly (not 41 from floating point), 30/0.7 = 42.86 → 43.
    staffing = agents_needed(300, HOUR, 300, 20, 0.8, shrinkage)
    assert (staffing.agents, staffing.scheduled) == (30, scheduled)


def test_no_calls_need_no_agents() -> None:
    staffing = agents_needed(0, HALF_HOUR, 240, 15, 0.9, 0.25)
    assert (staffing.agents, staffing.scheduled, staffing.traffic) == (0, 0, 0.0)
    assert (staffing.service_level, staffing.asa_seconds, staffing.wait_probability) == (1.0, 0.0, 0.0)
    assert wait_probability(0.0, 0) == 0.0


def test_more_load_than_agents_never_answers_in_time() -> None:
    assert wait_probability(40.0, 40) == 1.0
    assert service_level(45.0, 40, 300, 20) == 0.0
    assert asa_seconds(45.0, 40, 300) == math.inf


def test_huge_loads_do_not_overflow() -> None:
    # A^N/N! for 5000 erlangs overflows a float long before N = 5100; the recursion does not.
    assert 0.1 < wait_probability(5000.0, 5100) < 0.11
    assert 0 < wait_probability(5000.0, 5200) < 0.003
    staffing = agents_needed(1_000_000, HOUR, 300, 20, 0.8)
    assert staffing.traffic == pytest.approx(83_333.33, abs=0.01)
    assert staffing.traffic < staffing.agents < staffing.traffic * 1.01
    assert staffing.service_level >= 0.8 > service_level(staffing.traffic, staffing.agents - 1, 300, 20)


@pytest.mark.parametrize("arguments", [
    (-1, HOUR, 300, 20, 0.8, 0.0),
    (10, 0, 300, 20, 0.8, 0.0),
    (10, HOUR, 0, 20, 0.8, 0.0),
    (10, HOUR, 300, -1, 0.8, 0.0),
    (10, HOUR, 300, 20, 1.0, 0.0),
    (10, HOUR, 300, 20, 0.0, 0.0),
    (10, HOUR, 300, 20, 0.8, 1.0),
    (math.nan, HOUR, 300, 20, 0.8, 0.0),
])
def test_bad_input_is_refused_with_its_name(arguments: tuple[float, float, float, float, float, float]) -> None:
    with pytest.raises(BadStaffingInput):
        agents_needed(*arguments)


def test_bad_traffic_is_refused() -> None:
    with pytest.raises(ValueError, match="traffic"):
        wait_probability(-1.0, 3)
    with pytest.raises(ValueError, match="agents"):
        wait_probability(1.0, -3)
