"""routing.staffing: the half hour of a moment, the measures folded from buckets (only the chosen days, a day
counted only when it has calls, wrap-up added per answered call), and the plan per half hour."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from routing.staffing import SLOTS, Bucket, SlotMeasure, measures, plan, slot_of


@pytest.mark.parametrize(("moment", "slot"), [
    (datetime(2026, 10, 8, 10, 47, 12), time(10, 30)),
    (datetime(2026, 10, 8, 10, 30), time(10, 30)),
    (datetime(2026, 10, 8, 10, 29, 59, 999999), time(10, 0)),
    (datetime(2026, 10, 8, 0, 0), time(0, 0)),
    (datetime(2026, 10, 8, 23, 59, 50), time(23, 30)),
])
def test_the_half_hour_of_a_moment(moment: datetime, slot: time) -> None:
    assert slot_of(moment) == slot


def test_buckets_fold_into_every_half_hour_of_the_chosen_days() -> None:
    buckets = [
        Bucket(datetime(2026, 10, 8, 9, 0), calls=3, handled=2, talk_seconds=300.0),
        Bucket(datetime(2026, 10, 8, 9, 15), calls=1, handled=1, talk_seconds=100.0),
        Bucket(datetime(2026, 10, 9, 23, 45), calls=2, handled=0, talk_seconds=0.0),
        Bucket(datetime(2026, 10, 10, 9, 0), calls=50, handled=50, talk_seconds=9000.0),  # not a chosen day
    ]
    # 10-07 is chosen but has no calls: it does not count as a day.
    folded = measures(buckets, {date(2026, 10, 7), date(2026, 10, 8), date(2026, 10, 9)}, wrapup_seconds=10)
    assert [measure.start for measure in folded] == list(SLOTS)
    assert len(folded) == 48
    by_start = {measure.start: measure for measure in folded}
    # 9:00: 3 + 1 calls, 2 + 1 answered, 300 + 100 s of talk + 3 × 10 s of wrap-up.
    assert by_start[time(9, 0)] == SlotMeasure(time(9, 0), days=2, calls=4, handled=3, handle_seconds=430.0)
    assert by_start[time(23, 30)] == SlotMeasure(time(23, 30), days=2, calls=2, handled=0, handle_seconds=0.0)
    assert by_start[time(9, 30)] == SlotMeasure(time(9, 30), days=2, calls=0, handled=0, handle_seconds=0.0)


def test_the_plan_of_the_classic_example() -> None:
    # Four days of 360 calls at 9:00, 1000 of them answered in 240 000 s: 360 calls, AHT 240 s, 55 agents on
    # the phones for 80 % in 15 s, 55 / 0.7 = 78.6 → 79 on the rota.
    [slot] = plan([SlotMeasure(time(9, 0), 4, 1440, 1000, 240_000.0)], 15, 0.8, 0.3, 180)
    assert (slot.start, slot.calls, slot.handle_seconds) == (time(9, 0), 360.0, 240.0)
    assert (slot.staffing.agents, slot.staffing.scheduled) == (55, 79)
    assert slot.staffing.traffic == 48.0


def test_a_half_hour_without_answered_calls_assumes_the_default_handle_time() -> None:
    # 4 calls over 2 days: 2 a half hour × 180 s / 1800 s = 0.2 E. One agent: P_w = 0.2,
    # SL(15) = 1 − 0.2·e^(−0.8·15/180) = 0.813 < 0.9; two agents: P_w = 1/55, SL = 0.984.
    [slot] = plan([SlotMeasure(time(3, 0), 2, 4, 0, 0.0)], 15, 0.9, 0.0, 180)
    assert (slot.calls, slot.handle_seconds, slot.staffing.traffic) == (2.0, 180.0, pytest.approx(0.2))
    assert slot.staffing.agents == 2
    assert slot.staffing.wait_probability == pytest.approx(1 / 55)


def test_no_days_or_no_calls_need_nobody() -> None:
    slots = plan([SlotMeasure(time(4, 0), 0, 0, 0, 0.0), SlotMeasure(time(3, 30), 3, 0, 0, 0.0)], 15, 0.9, 0.25, 180)
    assert [(slot.start, slot.calls, slot.staffing.agents, slot.staffing.scheduled) for slot in slots] == [
        (time(3, 30), 0.0, 0, 0), (time(4, 0), 0.0, 0, 0)]
