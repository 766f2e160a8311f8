"""Groundwork for issue 6 (pure rules, not wired in yet): when a return visit calls or texts, at which hours,
how an unanswered call is retried at the next window, then an SMS, and when the visit is given up; and how an
SMS is coded and cut into parts."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing import return_visits as rv
from routing.sms_text import GSM7, PART, SINGLE, UCS2, split

ZONE = ZoneInfo("Asia/Shanghai")
CLOSED = datetime(2026, 11, 25, 16, 30, tzinfo=ZONE)  # a Wednesday afternoon
RULE = rv.VisitRule(after_days=1, within_days=3, call_attempts=2)
WINDOWS = rv.DEFAULT_WINDOWS  # 09–12 and 14–20


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ZONE)


def test_the_first_call_is_the_morning_after_closure_never_at_night() -> None:
    step = rv.first_step(rv.Visit(CLOSED), RULE, WINDOWS, "13800138000", (), mobile=True)
    assert (step.action, step.at) == ("call", at(26, 9))
    assert rv.open_at(at(26, 12, 30), WINDOWS) == at(26, 14), "the lunch break"
    assert rv.open_at(at(26, 21), WINDOWS) == at(27, 9), "no calls at night"
    assert rv.open_at(at(26, 10, 15), WINDOWS) == at(26, 10, 15), "inside a window: now"


def test_unanswered_and_busy_calls_are_retried_at_the_next_window_then_an_sms() -> None:
    visit = rv.Visit(CLOSED)
    visit, step = rv.after_attempt(visit, rv.NO_ANSWER, at(26, 9, 1), RULE, WINDOWS, mobile=True)
    assert (visit.calls, step.action, step.at) == (1, "call", at(26, 14)), "not again in the same window"
    visit, step = rv.after_attempt(visit, rv.BUSY, at(26, 14, 1), RULE, WINDOWS, mobile=True)
    assert (visit.calls, step.action, step.at) == (2, "sms", at(27, 9))
    visit, step = rv.after_attempt(visit, rv.SMS_SENT, at(27, 9), RULE, WINDOWS, mobile=True)
    assert (visit.texted, step.action, step.at) == (True, "wait_reply", CLOSED.replace(day=28))
    visit, step = rv.after_attempt(visit, rv.NO_REPLY, CLOSED.replace(day=28), RULE, WINDOWS, mobile=True)
    assert (step.action, step.reason) == ("unreachable", "no answer after 2 call(s) and an SMS")


def test_a_landline_gets_no_sms_and_an_answer_ends_the_visit() -> None:
    visit = rv.Visit(CLOSED, calls=1)
    _visit, step = rv.after_attempt(visit, rv.NO_ANSWER, at(26, 15), RULE, WINDOWS, mobile=False)
    assert (step.action, step.reason) == ("unreachable", "no answer after 2 call(s)")
    assert rv.after_attempt(rv.Visit(CLOSED), rv.ANSWERED, at(26, 9), RULE, WINDOWS, True)[1].action == "done"


def test_the_do_not_contact_list_and_the_deadline_end_a_visit() -> None:
    step = rv.first_step(rv.Visit(CLOSED), RULE, WINDOWS, "13800138000", ["13800138000"], mobile=True)
    assert (step.action, step.reason) == ("unreachable", "the number is on the do-not-contact list")
    late = rv.Visit(CLOSED, calls=1)
    _visit, step = rv.after_attempt(late, rv.NO_ANSWER, at(28, 19), RULE, WINDOWS, mobile=False)
    assert (step.action, step.reason) == ("unreachable", "no answer after 2 call(s)")
    short = rv.VisitRule(within_days=1, call_attempts=5)
    _visit, step = rv.after_attempt(rv.Visit(CLOSED), rv.NO_ANSWER, at(26, 19), short, WINDOWS, mobile=False)
    assert (step.action, step.reason) == ("unreachable", "no call window before the deadline")


def test_rules_per_order_type_and_the_outbound_cap() -> None:
    complaint = rv.VisitRule("complaint", within_days=10)
    assert rv.rule_for("complaint", [complaint, RULE]) is complaint
    assert rv.rule_for("help", [complaint, RULE]) is RULE
    assert rv.rule_for("help", [complaint]) == rv.VisitRule()
    assert (rv.may_start(3, 5), rv.may_start(7, 5)) == (2, 0)
    with pytest.raises(ValueError, match="ends after it starts"):
        rv.Window(time(20), time(9))


def test_chinese_is_ucs2_and_a_long_message_is_cut_into_parts_of_67() -> None:
    short = split("您好，您反映的路灯问题已办结。")
    assert (short.coding, len(short.parts)) == (UCS2, 1)
    text = "您好，这里是12345热线。" * 10  # 140 characters
    long = split(text)
    assert [len(part) for part in long.parts] == [67, 67, 6] and "".join(long.parts) == text
    assert split("A" * 160).parts == ["A" * 160] and len(split("A" * 161).parts) == 2
    assert split("Reply 1 or 2 €").coding == GSM7


@given(st.text(alphabet=st.sampled_from("路灯A€{😀 1"), max_size=400))
def test_parts_join_to_the_text_and_never_cut_a_character_in_two(text: str) -> None:
    encoded = split(text)
    assert "".join(encoded.parts) == text
    limit = SINGLE[encoded.coding] if len(encoded.parts) == 1 else PART[encoded.coding]
    for part in encoded.parts:
        units = len(part.encode("utf-16-be")) // 2 if encoded.coding == UCS2 else sum(
            2 if char in "€{" else 1 for char in part)
        assert units <= limit
