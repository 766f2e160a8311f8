"""routing.kpi on hand-made rows: every definition pinned down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.kpi import CallFacts, agent_times, call_kpis
from routing.seats import SeatEvent

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def call(n: int, outcome: str, wait: float | None = None, talk: float | None = None, agent: str | None = None,
         rating: str | None = None) -> CallFacts:
    return CallFacts(f"1.{n}", f"138{n:08d}", at(n), outcome, wait, talk, agent, rating)


CALLS = [
    call(1, "answered", wait=3, talk=60, agent="1001", rating="satisfied"),
    call(2, "answered", wait=20, talk=100, agent="1002"),
    call(3, "abandoned", wait=4),
    call(4, "abandoned", wait=40),
    call(5, "timed_out", wait=300),
    call(6, "hung_up_before_queue"),
    call(7, "refused"),
]


def test_call_kpis_follow_their_definitions() -> None:
    kpis = call_kpis(CALLS, service_level_seconds=15, short_abandon_seconds=5, wrapup_seconds=10)
    assert kpis.offered == 6, "refused numbers are not offered calls; greeting hang-ups are"
    assert (kpis.answered, kpis.answer_rate) == (2, round(2 / 6, 4))
    assert (kpis.answered_within_service_level, kpis.service_level_rate) == (1, round(1 / 6, 4))
    assert (kpis.abandoned, kpis.abandoned_short, kpis.abandoned_long) == (2, 1, 1)
    assert (kpis.timed_out, kpis.hung_up_before_queue) == (1, 1)
    assert kpis.average_wait_seconds == round((3 + 20 + 4 + 40 + 300) / 5, 2), "abandoned waits count too"
    assert kpis.average_handle_seconds == ((60 + 10) + (100 + 10)) / 2
    assert kpis.ratings == {"satisfied": 1}
    assert [c["uniqueid"] for c in kpis.abandoned_calls] == ["1.3", "1.4"]


def test_no_calls_gives_no_rates_rather_than_a_division_by_zero() -> None:
    kpis = call_kpis([], 15, 5, 10)
    assert (kpis.offered, kpis.answer_rate, kpis.service_level_rate, kpis.average_wait_seconds) == (0, None, None, None)


def test_agent_times_clip_to_the_period_and_split_pauses_by_reason() -> None:
    events = [
        SeatEvent("1001", "8001", "login", None, at(-60)),  # the shift began before the period
        SeatEvent("1001", "8001", "pause", "break", at(10)),
        SeatEvent("1001", "8001", "pause", "training", at(20)),  # a new reason closes the old pause
        SeatEvent("1001", "8001", "resume", None, at(30)),
        SeatEvent("1001", "8001", "logout", None, at(50)),
        SeatEvent("1002", "8002", "login", None, at(40)),  # still logged in at the period's end
    ]
    times = agent_times(events, CALLS, start=T0, end=at(60), wrapup_seconds=10)
    first, second = times["1001"], times["1002"]
    assert first.logged_in_seconds == 50 * 60
    assert first.paused_seconds == {"break": 600.0, "training": 600.0}
    assert (first.calls_answered, first.talk_seconds, first.wrapup_seconds) == (1, 60, 10)
    assert first.ratings == {"satisfied": 1}
    assert second.logged_in_seconds == 20 * 60 and second.paused_seconds == {}
    assert second.calls_answered == 1


def test_a_pause_without_a_login_counts_nothing() -> None:
    events = [SeatEvent("1003", "8003", "pause", "break", at(5)), SeatEvent("1003", "8003", "resume", None, at(9))]
    times = agent_times(events, [], start=T0, end=at(60), wrapup_seconds=10)
    assert times["1003"].paused_seconds == {} and times["1003"].logged_in_seconds == 0
