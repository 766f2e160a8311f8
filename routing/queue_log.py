"""Asterisk's queue log as data: lines in, queue facts per call out, and how they square with a call record.

Pure: no I/O. A line is `epoch|uniqueid|queue|agent|EVENT|data1|data2|...` (logger.conf queue_log_to_file);
the agent is the member name, i.e. our agent id (queues.conf log_membername_as_agent). Times are whole
seconds, so a wait read from here is exact to about a second.

The dialplan re-enters Queue() after each announcement, so a caller who waits long has several ENTERQUEUE /
EXITWITHTIMEOUT pairs under one uniqueid: the wait counts from the first ENTERQUEUE. Every queue in the log
is ours (one per line of service: hotline-general, hotline-enterprise, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from routing.call_outcome import VANISHED, Outcome

# Both ends of a wait are whole seconds here and fractional in the AMI events: up to a second apart, plus
# the few milliseconds between app_queue logging the line and raising the event.
SECONDS_TOLERANCE = 1.5


@dataclass(frozen=True)
class QueueEvent:
    line_number: int
    at: datetime
    uniqueid: str
    queue: str
    agent: str


@dataclass(frozen=True)
class Entered(QueueEvent):
    """ENTERQUEUE: url|callerid|position."""

    caller: str | None


@dataclass(frozen=True)
class Connected(QueueEvent):
    """CONNECT: holdtime|bridged uniqueid|ringtime (holdtime counts from the latest entry only)."""

    hold_seconds: int


@dataclass(frozen=True)
class Completed(QueueEvent):
    """COMPLETEAGENT / COMPLETECALLER (holdtime|calltime|origposition) or a transfer that ended the talk."""

    talk_seconds: int
    ended_by: str  # agent, caller, transfer


@dataclass(frozen=True)
class Abandoned(QueueEvent):
    """ABANDON: position|origposition|waittime. The caller hung up while queued."""

    wait_seconds: int


@dataclass(frozen=True)
class Exited(QueueEvent):
    """EXITWITHTIMEOUT, EXITWITHKEY, EXITEMPTY: the caller left the queue unanswered, perhaps to come back."""

    reason: str  # timeout, key, empty
    wait_seconds: int


@dataclass(frozen=True)
class OtherEvent(QueueEvent):
    """Member and queue events (ADDMEMBER, PAUSE, RINGNOANSWER, QUEUESTART, ...): not a call's facts."""

    event: str
    data: tuple[str, ...]


@dataclass(frozen=True)
class Malformed:
    line_number: int
    problem: str
    text: str

    def __str__(self) -> str:
        return f"queue_log line {self.line_number}: {self.problem}: {self.text.strip()!r}"


QueueLogRecord = Entered | Connected | Completed | Abandoned | Exited | OtherEvent


def _whole(data: Sequence[str], index: int, name: str) -> int:
    if index >= len(data):
        raise ValueError(f"no {name} (data{index + 1})")
    try:
        return int(data[index])
    except ValueError:
        raise ValueError(f"{name} (data{index + 1}) is {data[index]!r}, expected whole seconds") from None


_Builder = Callable[[dict[str, Any], Sequence[str]], QueueLogRecord]
_BUILDERS: dict[str, _Builder] = {
    "ENTERQUEUE": lambda h, d: Entered(**h, caller=d[1] if len(d) > 1 and d[1] else None),
    "CONNECT": lambda h, d: Connected(**h, hold_seconds=_whole(d, 0, "holdtime")),
    "COMPLETEAGENT": lambda h, d: Completed(**h, talk_seconds=_whole(d, 1, "calltime"), ended_by="agent"),
    "COMPLETECALLER": lambda h, d: Completed(**h, talk_seconds=_whole(d, 1, "calltime"), ended_by="caller"),
    # extension|context|holdtime|calltime|origposition, or BRIDGE|bridge|holdtime|calltime|origposition
    "BLINDTRANSFER": lambda h, d: Completed(**h, talk_seconds=_whole(d, 3, "calltime"), ended_by="transfer"),
    "ATTENDEDTRANSFER": lambda h, d: Completed(**h, talk_seconds=_whole(d, 3, "calltime"),
                                               ended_by="transfer"),
    "ABANDON": lambda h, d: Abandoned(**h, wait_seconds=_whole(d, 2, "waittime")),
    "EXITWITHTIMEOUT": lambda h, d: Exited(**h, reason="timeout", wait_seconds=_whole(d, 2, "waittime")),
    "EXITEMPTY": lambda h, d: Exited(**h, reason="empty", wait_seconds=_whole(d, 2, "waittime")),
    "EXITWITHKEY": lambda h, d: Exited(**h, reason="key", wait_seconds=_whole(d, 3, "waittime")),
}


def parse_line(text: str, line_number: int) -> QueueLogRecord | Malformed:
    """One line as a typed record, or a Malformed value saying what is wrong with it (never raises)."""
    fields = text.rstrip("\r\n").split("|")
    if len(fields) < 5:
        return Malformed(line_number, f"expected at least 5 fields separated by '|', found {len(fields)}", text)
    epoch, uniqueid, queue, agent, event, *data = fields
    try:
        at = datetime.fromtimestamp(float(epoch), UTC)
    except (ValueError, OverflowError, OSError):
        return Malformed(line_number, f"the time {epoch!r} is not epoch seconds", text)
    if not event:
        return Malformed(line_number, "no event name", text)
    header: dict[str, Any] = {
        "line_number": line_number, "at": at, "uniqueid": uniqueid, "queue": queue, "agent": agent,
    }
    build = _BUILDERS.get(event)
    if build is None:
        return OtherEvent(**header, event=event, data=tuple(data))
    if uniqueid in ("", "NONE"):
        return Malformed(line_number, f"{event} without the caller's uniqueid", text)
    try:
        return build(header, data)
    except ValueError as exc:
        return Malformed(line_number, f"{event}: {exc}", text)


def parse_lines(lines: Iterable[tuple[int, str]]) -> list[QueueLogRecord | Malformed]:
    """(line number, text) pairs, parsed in order."""
    return [parse_line(text, number) for number, text in lines]


class QueueEnd(StrEnum):
    WAITING = "waiting"  # in the queue, or between two stretches of it
    TALKING = "talking"  # connected to an agent, the talk not over yet
    ANSWERED = "answered"  # connected, and the talk is over
    ABANDONED = "abandoned"  # hung up while queued
    LEFT = "left"  # out of the queue unanswered (a stretch timed out, a key, an empty queue): maybe for good


FINAL_ENDS = (QueueEnd.ANSWERED, QueueEnd.ABANDONED, QueueEnd.LEFT)


@dataclass
class QueueCall:
    """What the queue log says about one call (one uniqueid)."""

    uniqueid: str
    queue: str
    first_line: int
    last_at: datetime
    whole: bool  # its first line is an ENTERQUEUE: the log holds the call's whole queue history
    caller: str | None = None
    enqueued_at: datetime | None = None
    entries: int = 0
    answered_at: datetime | None = None
    agent: str | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    end: QueueEnd = QueueEnd.WAITING
    exit_reason: str | None = None
    lines: list[int] = field(default_factory=list)


def fold(records: Iterable[QueueLogRecord | Malformed]) -> dict[str, QueueCall]:
    """Queue facts per uniqueid, from records in the order written; member events and bad lines are skipped."""
    calls: dict[str, QueueCall] = {}
    for record in records:
        if isinstance(record, Malformed | OtherEvent):
            continue
        call = calls.get(record.uniqueid)
        if call is None:
            call = calls[record.uniqueid] = QueueCall(
                record.uniqueid, record.queue, record.line_number, record.at, isinstance(record, Entered)
            )
        _apply(call, record)
    return calls


def _apply(call: QueueCall, record: Entered | Connected | Completed | Abandoned | Exited) -> None:
    call.last_at = record.at
    call.lines.append(record.line_number)
    match record:
        case Entered():
            call.enqueued_at = call.enqueued_at or record.at
            call.caller = call.caller or record.caller
            call.entries += 1
            call.end = QueueEnd.WAITING
        case Connected():
            call.answered_at, call.agent, call.queue = record.at, record.agent, record.queue
            call.wait_seconds = _waited(call, record.at, record.hold_seconds)
            call.end = QueueEnd.TALKING
        case Completed():
            call.talk_seconds = float(record.talk_seconds)
            call.end = QueueEnd.ANSWERED
        case Abandoned():
            call.wait_seconds = _waited(call, record.at, record.wait_seconds)
            call.end = QueueEnd.ABANDONED
        case Exited():
            call.wait_seconds = _waited(call, record.at, record.wait_seconds)
            call.end, call.exit_reason = QueueEnd.LEFT, record.reason


def _waited(call: QueueCall, at: datetime, this_stretch: int) -> float:
    """From the first entry; a call seen only from the middle has the latest stretch's own count."""
    if call.enqueued_at is None:
        return float(this_stretch)
    return (at - call.enqueued_at).total_seconds()


def queue_outcome(call: QueueCall, max_wait_seconds: float) -> Outcome | None:
    """The outcome the queue log alone supports; None while the call may still be queued or talking."""
    if call.end in (QueueEnd.ANSWERED, QueueEnd.TALKING):
        return Outcome.ANSWERED
    if call.end == QueueEnd.ABANDONED:
        return Outcome.ABANDONED
    if call.end == QueueEnd.LEFT:
        # The hotline ends the wait after max_wait_seconds (or on an empty queue); a caller who left a
        # stretch earlier hung up during the announcement that follows it. The clock here is whole seconds.
        ended_by_hotline = call.exit_reason == "empty" or (call.wait_seconds or 0) >= max_wait_seconds - 1
        return Outcome.TIMED_OUT if ended_by_hotline else Outcome.ABANDONED
    return None


# Outcomes of a call record that the queue log's ending is consistent with. After leaving a stretch of the
# queue the caller may also have asked for a callback or left a voicemail: only our server knows those.
_CONSISTENT = {
    QueueEnd.ANSWERED: {Outcome.ANSWERED},
    QueueEnd.TALKING: {Outcome.ANSWERED},
    QueueEnd.ABANDONED: {Outcome.ABANDONED},
    QueueEnd.LEFT: {Outcome.ABANDONED, Outcome.TIMED_OUT, Outcome.CALLBACK_REQUESTED, Outcome.VOICEMAIL},
}


@dataclass(frozen=True)
class Reconciliation:
    uniqueid: str
    filled: dict[str, Any]  # the facts to write: only those the record lacked, or the whole row if unknown
    discrepancies: tuple[str, ...]  # where the record and the queue log disagree, one sentence each
    inserted: bool  # the record did not exist


def queue_facts(call: QueueCall, max_wait_seconds: float) -> dict[str, Any]:
    """The call record's fields that the queue log knows, by their column names."""
    outcome = queue_outcome(call, max_wait_seconds)
    facts: dict[str, Any] = {
        "queue": call.queue, "enqueued_at": call.enqueued_at, "answered_at": call.answered_at,
        "agent": call.agent, "wait_seconds": call.wait_seconds, "talk_seconds": call.talk_seconds,
        "outcome": outcome.value if outcome else None,
        "ended_at": call.last_at if call.end in FINAL_ENDS else None,
    }
    return {name: value for name, value in facts.items() if value is not None}


def reconcile(call: QueueCall, record: Mapping[str, Any] | None, max_wait_seconds: float) -> Reconciliation:
    """Fill what the record lacks from the queue log, and name what disagrees; never change a fact it has.

    A record without any queue fact had its outcome decided blind (hung up before the queue, or still in
    progress), and so had one ended without its hang-up being seen (VANISHED): that outcome is replaced too.
    Facts only our server knows (intake, rating, hand-off) are never touched.
    """
    facts = queue_facts(call, max_wait_seconds)
    if record is None:
        unknown = {"uniqueid": call.uniqueid, "caller_number": call.caller, "started_at": call.enqueued_at, **facts}
        row = {name: value for name, value in unknown.items() if value is not None}
        return Reconciliation(call.uniqueid, row, (), inserted=True)
    filled = {name: value for name, value in facts.items() if name != "outcome" and record.get(name) is None}
    if "outcome" in facts and _outcome_decided_blind(record, call):
        filled["outcome"] = facts["outcome"]
    if "ended_at" in facts and record.get("hangup_cause") == VANISHED:
        filled["ended_at"] = facts["ended_at"]  # the log saw the end; the record has when it was missed
    merged = {**record, **filled}
    return Reconciliation(call.uniqueid, filled, tuple(_disagreements(call, merged)), inserted=False)


def _outcome_decided_blind(record: Mapping[str, Any], call: QueueCall) -> bool:
    if record.get("outcome") in (None, Outcome.IN_PROGRESS.value) or record.get("hangup_cause") == VANISHED:
        return True
    if record.get("enqueued_at") is None:
        return True
    answered_unseen = record.get("answered_at") is None and record.get("agent") is None
    return call.end in (QueueEnd.ANSWERED, QueueEnd.TALKING) and answered_unseen


def _disagreements(call: QueueCall, record: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name, theirs in (("agent", call.agent), ("queue", call.queue)):
        if theirs is not None and record.get(name) not in (None, theirs):
            found.append(f"{name}: recorded {record[name]!r}, queue log {theirs!r}")
    for name, seconds in (("wait_seconds", call.wait_seconds), ("talk_seconds", call.talk_seconds)):
        mine = record.get(name)
        if seconds is not None and mine is not None and abs(float(mine) - seconds) > SECONDS_TOLERANCE:
            found.append(f"{name}: recorded {float(mine):g}, queue log {seconds:g}")
    consistent = _CONSISTENT.get(call.end)
    if consistent is not None and record.get("outcome") not in consistent:
        found.append(f"outcome: recorded {record.get('outcome')!r}, queue log says {call.end.value}")
    return found


def is_ready(call: QueueCall, record: Mapping[str, Any] | None, now: datetime, settle: timedelta) -> bool:
    """Whether the call's queue history is over and its record will not change under us.

    It needs a final line, and either a record that says the call ended or `settle` since the last line:
    after leaving a stretch of the queue the caller may come back; an answered caller rates the call before
    the hang-up is recorded; and a call made while our server was down reaches the database from the classic
    AGI spool a little after the server returns.
    """
    if call.end not in FINAL_ENDS:
        return False
    return (record is not None and record.get("ended_at") is not None) or now - call.last_at >= settle
