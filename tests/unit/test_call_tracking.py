"""From AMI events to a call's outcome: the sequences Asterisk 22 sends for each way a call ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.calls.tracker import CallTracker, Row
from routing.call_outcome import Outcome, QueueFacts, final_outcome

CALLER = "1700000000.1"
AGENT_LEG = "1700000000.2"


def event(name: str, at: float, **fields: str) -> tuple[str, dict[str, str]]:
    return name, {"Event": name, "Timestamp": f"{at:.6f}", **fields}


def new_channel(at: float = 100.0, exten: str = "12345", context: str = "citizens") -> tuple[str, dict[str, str]]:
    return event("Newchannel", at, Uniqueid=CALLER, Linkedid=CALLER, CallerIDNum="13800138000",
                 Exten=exten, Context=context)


def run(*events: tuple[str, dict[str, str]]) -> tuple[CallTracker, list[Row]]:
    rows: list[Row] = []
    tracker = CallTracker("12345", "citizens", rows.append)
    for name, fields in events:
        tracker.handle(name, fields)
    return tracker, rows


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_answered_call_carries_answer_time_wait_agent_and_talk() -> None:
    tracker, rows = run(
        new_channel(100.0),
        event("UserEvent", 104.0, UserEvent="HotlineIntake", Uniqueid=CALLER, Intake="fallback"),
        event("QueueCallerJoin", 105.0, Uniqueid=CALLER, Queue="hotline", CallerIDNum="13800138000"),
        event("AgentConnect", 108.5, Uniqueid=CALLER, DestUniqueid=AGENT_LEG, MemberName="1001",
              Interface="PJSIP/8001", HoldTime="3", RingTime="1"),
        event("Hangup", 130.0, Uniqueid=AGENT_LEG),
        event("AgentComplete", 130.0, Uniqueid=CALLER, TalkTime="21", HoldTime="3", Reason="caller"),
        event("Hangup", 130.1, Uniqueid=CALLER, Cause="16", **{"Cause-txt": "Normal Clearing"}),
    )
    final = rows[-1]
    assert final["outcome"] == Outcome.ANSWERED
    assert (final["agent"], final["seat"]) == ("1001", "8001")
    assert final["wait_seconds"] == 3.5, "from the first entry to the queue, to the millisecond"
    assert final["talk_seconds"] == 21.0
    assert final["started_at"] == at(100.0) and final["enqueued_at"] == at(105.0)
    assert final["answered_at"] == at(108.5) and final["ended_at"] == at(130.1)
    assert final["hangup_cause"] == "Normal Clearing" and final["intake"] == "fallback"
    assert tracker.live == {}, "an ended call is no longer live"


def test_hang_up_in_the_queue_is_abandoned_with_asterisks_hold_time() -> None:
    _, rows = run(
        new_channel(),
        event("QueueCallerJoin", 105.0, Uniqueid=CALLER, Queue="hotline"),
        event("QueueCallerAbandon", 112.0, Uniqueid=CALLER, Queue="hotline", HoldTime="7", Position="1"),
        event("QueueCallerLeave", 112.0, Uniqueid=CALLER, Queue="hotline"),
        event("Hangup", 112.0, Uniqueid=CALLER),
    )
    assert rows[-1]["outcome"] == Outcome.ABANDONED and rows[-1]["wait_seconds"] == 7.0
    assert "answered_at" not in rows[-1] and "agent" not in rows[-1]


def test_leaving_the_queue_unanswered_is_a_timeout_with_the_measured_wait() -> None:
    _, rows = run(
        new_channel(),
        event("QueueCallerJoin", 105.0, Uniqueid=CALLER, Queue="hotline"),
        event("QueueCallerLeave", 405.0, Uniqueid=CALLER, Queue="hotline"),
        event("UserEvent", 405.0, UserEvent="HotlineQueueEnd", Uniqueid=CALLER, Reason="timeout"),
        event("Hangup", 410.0, Uniqueid=CALLER),
    )
    assert rows[-1]["outcome"] == Outcome.TIMED_OUT and rows[-1]["wait_seconds"] == 300.0


def test_hang_up_during_the_greeting_and_refused_numbers() -> None:
    _, greeting = run(new_channel(), event("Hangup", 102.0, Uniqueid=CALLER))
    assert greeting[-1]["outcome"] == Outcome.HUNG_UP_BEFORE_QUEUE
    _, refused = run(new_channel(exten="0085212345678"), event("Hangup", 100.1, Uniqueid=CALLER))
    assert refused[-1]["outcome"] == Outcome.REFUSED and refused[-1]["dialled_number"] == "0085212345678"


def test_legs_we_dial_out_through_the_carrier_are_not_citizen_calls() -> None:
    name, fields = new_channel(exten="s")
    tracker, rows = run((name, {**fields, "ChannelState": "0", "ChannelStateDesc": "Down"}),
                        event("Hangup", 130.0, Uniqueid=CALLER))
    assert rows == [] and tracker.live == {}
    name, fields = new_channel()
    _, rows = run((name, {**fields, "ChannelState": "4", "ChannelStateDesc": "Ring"}))
    assert rows[-1]["uniqueid"] == CALLER, "an incoming call starts ringing and is tracked"


def test_only_the_intake_user_event_sets_the_intake() -> None:
    _, rows = run(
        new_channel(),
        event("UserEvent", 101.0, UserEvent="SomethingElse", Uniqueid=CALLER, Intake="bogus"),
        event("Hangup", 102.0, Uniqueid=CALLER),
    )
    assert "intake" not in rows[-1]


def test_agents_own_legs_and_other_contexts_are_not_calls() -> None:
    tracker, rows = run(
        new_channel(context="agents"),
        event("AgentConnect", 101.0, Uniqueid="nobody", MemberName="8001"),
        event("Hangup", 102.0, Uniqueid=CALLER),
    )
    assert rows == [] and tracker.live == {}


def test_fastagi_intake_marks_the_call_even_before_the_ami_event_arrives() -> None:
    rows: list[Row] = []
    tracker = CallTracker("12345", "citizens", rows.append)
    tracker.intake(CALLER, "13800138000", "12345")
    name, fields = new_channel(100.0)
    tracker.handle(name, fields)
    assert rows[0]["intake"] == "ivr" and rows[-1]["intake"] == "ivr"
    assert rows[-1]["started_at"] == at(100.0), "Asterisk's own clock wins"


def test_a_call_seen_first_in_the_queue_is_still_recorded() -> None:
    """The server restarted mid-call: no Newchannel, but the queue events still make a complete row."""
    _, rows = run(
        event("QueueCallerJoin", 105.0, Uniqueid=CALLER, Queue="hotline", CallerIDNum="13800138000"),
        event("Hangup", 109.0, Uniqueid=CALLER),
    )
    assert rows[-1]["caller_number"] == "13800138000" and rows[-1]["outcome"] == Outcome.ABANDONED


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (QueueFacts(True, True, True, False, True), Outcome.ANSWERED),
        (QueueFacts(True, True, False, True, False), Outcome.ABANDONED),
        (QueueFacts(True, True, False, False, False, callback_requested=True), Outcome.CALLBACK_REQUESTED),
        (QueueFacts(True, True, False, False, False, voicemail=True), Outcome.VOICEMAIL),
        (QueueFacts(True, True, False, False, True), Outcome.TIMED_OUT),
        (QueueFacts(True, True, False, False, False), Outcome.ABANDONED),
        (QueueFacts(True, False, False, False, False), Outcome.HUNG_UP_BEFORE_QUEUE),
        (QueueFacts(False, False, False, False, False), Outcome.REFUSED),
    ],
)
def test_final_outcome(facts: QueueFacts, expected: Outcome) -> None:
    assert final_outcome(facts) == expected


@pytest.mark.parametrize("stamp", ["soon", "inf", "1e300", "-1e300", "nan"])
def test_a_timestamp_no_date_can_hold_is_taken_as_now(stamp: str) -> None:
    before = datetime.now(UTC)
    name, fields = new_channel()
    _, rows = run((name, {**fields, "Timestamp": stamp}))
    assert before <= rows[-1]["started_at"] <= datetime.now(UTC)
