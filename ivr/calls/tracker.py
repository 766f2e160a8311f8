"""Live calls, built from AMI events and the FastAGI intake, published as rows for the writer.

Only channels that enter the citizens' context are tracked; agents' legs are ignored except where a
queue event names the caller's channel. Times come from Asterisk's event timestamps when present.

What the FastAGI call flow reports (intake, line, rating, voicemail, callback) counts only for a call AMI
announced: anyone who can reach the FastAGI port can send any unique id, and must not make a call record.
The intake's facts for a call not announced yet (its Newchannel still on the way) wait for it, a bounded few.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ivr.ami import events
from ivr.calls.columns import bounded
from ivr.dialplan_variables import INTAKE_EVENT, QUEUE_END_EVENT, VOICEMAIL_EVENT
from routing.call_outcome import VANISHED, Outcome, QueueFacts, final_outcome
from routing.lines import place_among

logger = logging.getLogger(__name__)
DOWN = "0"  # AST_STATE_DOWN: how a channel we originate starts; an incoming one starts ringing (4)
# Calls whose intake came before AMI's Newchannel, held until it arrives: more than this are dropped, oldest
# first (a peer faking FastAGI sessions must not grow the server).
UNANNOUNCED_LIMIT = 256
Row = dict[str, Any]
Update = Callable[["CallRecord"], None]


@dataclass
class CallRecord:
    uniqueid: str
    linkedid: str | None = None
    caller_number: str | None = None
    dialled_number: str | None = None
    queue: str | None = None  # the last queue the caller joined
    line: str | None = None  # the service line's queue, chosen at intake
    intake: str | None = None
    started_at: datetime | None = None
    enqueued_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    agent: str | None = None
    seat: str | None = None
    outcome: str = Outcome.IN_PROGRESS.value
    hangup_cause: str | None = None
    rating: str | None = None
    rated_at: datetime | None = None
    handoff: str | None = None  # the emergency number the caller was handed to (110, 119, 120, 122)
    handoff_by: str | None = None
    handoff_at: datetime | None = None
    handoff_mode: str | None = None
    channel: str | None = None  # Asterisk's channel name, to act on the live call; not stored
    agent_channel: str | None = None  # the agent's leg once answered; not stored
    priority: int = 0  # in the queue: a flagged repeat caller's is higher; not stored
    facts: dict[str, bool] = field(default_factory=dict)

    def row(self) -> Row:
        """The stored fields that are set; texts from AMI and FastAGI cut to their columns."""
        values = {name: getattr(self, name) for name in ROW_FIELDS}
        return bounded({name: value for name, value in values.items() if value is not None})


NOT_STORED = ("facts", "channel", "agent_channel", "priority")
ROW_FIELDS = [name for name in CallRecord.__dataclass_fields__ if name not in NOT_STORED]


def event_time(fields: Mapping[str, str]) -> datetime:
    """The event's own time; now when it has none, or one no date can hold (not a number, inf, 1e300)."""
    stamp = fields.get("Timestamp")
    try:
        return datetime.fromtimestamp(float(stamp), UTC) if stamp else datetime.now(UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _waited(record: CallRecord, fields: Mapping[str, str]) -> float | None:
    """Seconds since the first entry to the queue (app_queue's HoldTime restarts at each re-entry)."""
    if record.enqueued_at is None:
        return _seconds(fields, "HoldTime")
    return round((event_time(fields) - record.enqueued_at).total_seconds(), 3)


def _seconds(fields: Mapping[str, str], key: str) -> float | None:
    try:
        return float(fields[key])
    except (KeyError, ValueError):
        return None


class CallTracker:
    def __init__(self, hotline_number: str, citizens_context: str, publish: Callable[[Row], None]) -> None:
        self.hotline_number = hotline_number
        self.citizens_context = citizens_context
        self.publish = publish
        self.live: dict[str, CallRecord] = {}
        self._unannounced: OrderedDict[str, list[Update]] = OrderedDict()
        # Called with each call's final record when it ends (after it is published).
        self.finished_listeners: list[Callable[[CallRecord], None]] = []
        self._handlers: dict[str, Callable[[Mapping[str, str]], None]] = {
            events.NEWCHANNEL: self._new_channel,
            events.QUEUE_CALLER_JOIN: self._queue_join,
            events.AGENT_CONNECT: self._agent_connect,
            events.QUEUE_CALLER_ABANDON: self._abandon,
            events.QUEUE_CALLER_LEAVE: self._queue_leave,
            events.AGENT_COMPLETE: self._agent_complete,
            events.HANGUP: self._hangup,
            events.USER_EVENT: self._user_event,
        }

    @property
    def events(self) -> list[str]:
        return list(self._handlers)

    def handle(self, name: str, fields: Mapping[str, str]) -> None:
        handler = self._handlers.get(name)
        if handler is not None:
            handler(fields)

    def intake(self, uniqueid: str, caller: str, dialled: str) -> None:
        """Our FastAGI greeted this caller (so the dialplan fallback was not needed)."""
        def greeted(record: CallRecord) -> None:
            record.intake = "ivr"
            record.caller_number = record.caller_number or caller
            record.dialled_number = record.dialled_number or dialled
            record.started_at = record.started_at or datetime.now(UTC)

        self._from_call_flow(uniqueid, greeted, hold=True)

    def answered_by(self, agent_id: str) -> CallRecord | None:
        """The live call an agent is talking to, if any."""
        return next((r for r in self.live.values() if r.agent == agent_id and r.facts.get("answered")), None)

    def callback_requested(self, uniqueid: str) -> None:
        record = self._announced(uniqueid, "callback request")
        if record is not None:
            record.facts["callback_requested"] = True

    def left_voicemail(self, uniqueid: str) -> None:
        record = self._announced(uniqueid, "voicemail")
        if record is not None:
            record.facts["voicemail"] = True

    def routed(self, uniqueid: str, line: str, priority: int) -> None:
        def entered(record: CallRecord) -> None:
            record.line, record.priority = line, priority

        self._from_call_flow(uniqueid, entered, hold=True)

    def queue_position(self, uniqueid: str) -> int:
        """Place on the caller's line among those still waiting: higher priority first, then who came first."""
        mine = self.live.get(uniqueid)
        if mine is None or mine.enqueued_at is None:
            return 1
        others = [(r.priority, r.enqueued_at.timestamp()) for r in self.live.values()
                  if r is not mine and r.enqueued_at and r.line == mine.line
                  and not r.facts.get("answered") and not r.facts.get("callback_requested")]
        return place_among((mine.priority, mine.enqueued_at.timestamp()), others)

    def handed_off(self, uniqueid: str, number: str, agent_id: str, mode: str) -> None:
        record = self._record(uniqueid)
        record.handoff, record.handoff_by, record.handoff_at = number, agent_id, datetime.now(UTC)
        record.handoff_mode = mode
        self._changed(record)

    def rated(self, uniqueid: str, rating: str) -> None:
        """The citizen rated the call after the agent hung up (一次一评)."""
        def given(record: CallRecord) -> None:
            record.rating = rating
            record.rated_at = datetime.now(UTC)

        self._from_call_flow(uniqueid, given, hold=False)

    def _from_call_flow(self, uniqueid: str, update: Update, hold: bool) -> None:
        """Apply what the FastAGI call flow learnt to a call AMI announced; `hold` it for one not announced
        yet (the intake can overtake the Newchannel event), else leave it."""
        record = self._announced(uniqueid, "FastAGI session", quiet=hold)
        if record is not None:
            update(record)
            self._changed(record)
        elif hold:
            self._unannounced.setdefault(uniqueid, []).append(update)
            self._unannounced.move_to_end(uniqueid)
            while len(self._unannounced) > UNANNOUNCED_LIMIT:
                dropped, _updates = self._unannounced.popitem(last=False)
                logger.warning("[%s] FastAGI session for a channel AMI never announced: not recorded", dropped)

    def _announced(self, uniqueid: str, what: str, quiet: bool = False) -> CallRecord | None:
        record = self.live.get(uniqueid)
        if record is None and not quiet:
            logger.warning("[%s] %s for a channel AMI did not announce: not recorded", uniqueid[:80], what)
        return record

    def _record(self, uniqueid: str) -> CallRecord:
        record = self.live.get(uniqueid)
        if record is None:
            record = self.live[uniqueid] = CallRecord(uniqueid)
            for update in self._unannounced.pop(uniqueid, []):
                update(record)
        return record

    def _changed(self, record: CallRecord) -> None:
        self.publish(record.row())

    def _new_channel(self, fields: Mapping[str, str]) -> None:
        # Only calls coming in: a leg we dial out through the carrier (callback, hand-off) starts Down.
        if fields.get("Context") != self.citizens_context or fields.get("ChannelState") == DOWN:
            return
        record = self._record(fields["Uniqueid"])
        record.channel = fields.get("Channel")
        record.linkedid = fields.get("Linkedid")
        record.caller_number = fields.get("CallerIDNum") or record.caller_number
        record.dialled_number = fields.get("Exten") or record.dialled_number
        record.started_at = event_time(fields)
        self._changed(record)

    def _queue_join(self, fields: Mapping[str, str]) -> None:
        record = self._record(fields["Uniqueid"])
        record.linkedid = record.linkedid or fields.get("Linkedid")
        record.caller_number = record.caller_number or fields.get("CallerIDNum")
        record.queue = fields.get("Queue")
        # The caller re-enters the queue after each announcement: the wait counts from the first entry.
        record.enqueued_at = record.enqueued_at or event_time(fields)
        record.started_at = record.started_at or record.enqueued_at
        record.facts["joined_queue"] = True
        self._changed(record)

    def _user_event(self, fields: Mapping[str, str]) -> None:
        """The dialplan says who greeted the caller when our FastAGI did not (fallback, classic-agi), that the
        hotline ended a wait, and that a caller is leaving a voicemail (from whichever flow sent them there)."""
        if fields.get("UserEvent") == INTAKE_EVENT:
            record = self._record(fields.get("Uniqueid", ""))
            record.intake = fields.get("Intake") or record.intake
            self._changed(record)
        elif fields.get("UserEvent") == QUEUE_END_EVENT and fields.get("Uniqueid") in self.live:
            self.live[fields["Uniqueid"]].facts["timed_out"] = True
        elif fields.get("UserEvent") == VOICEMAIL_EVENT and fields.get("Uniqueid") in self.live:
            self.left_voicemail(fields["Uniqueid"])

    def _agent_connect(self, fields: Mapping[str, str]) -> None:
        record = self.live.get(fields.get("Uniqueid", ""))
        if record is None:
            return
        record.answered_at = event_time(fields)
        record.wait_seconds = _waited(record, fields)
        record.agent = fields.get("MemberName")
        record.seat = fields.get("Interface", "").removeprefix("PJSIP/") or None
        record.agent_channel = fields.get("DestChannel")
        record.facts["answered"] = True
        record.outcome = Outcome.ANSWERED.value
        self._changed(record)

    def _abandon(self, fields: Mapping[str, str]) -> None:
        record = self.live.get(fields.get("Uniqueid", ""))
        if record is None:
            return
        record.wait_seconds = _waited(record, fields)
        record.facts["abandoned"] = True
        self._changed(record)

    def _queue_leave(self, fields: Mapping[str, str]) -> None:
        record = self.live.get(fields.get("Uniqueid", ""))
        if record is None or record.facts.get("answered"):
            return
        record.wait_seconds = _waited(record, fields)

    def _agent_complete(self, fields: Mapping[str, str]) -> None:
        record = self.live.get(fields.get("Uniqueid", ""))
        if record is not None:
            record.talk_seconds = _seconds(fields, "TalkTime")

    def _hangup(self, fields: Mapping[str, str]) -> None:
        record = self.live.pop(fields.get("Uniqueid", ""), None)
        if record is not None:
            self._end(record, event_time(fields), fields.get("Cause-txt") or fields.get("Cause"))

    def vanished(self, uniqueid: str) -> None:
        """Asterisk no longer has the call's channel, and its Hangup was never seen (Asterisk restarted, or the
        AMI connection was away): it ends now."""
        record = self.live.pop(uniqueid, None)
        if record is not None:
            self._end(record, datetime.now(UTC), VANISHED)

    def follow(self, row: Row, channel: str | None) -> None:
        """Follow again a stored call still up in Asterisk (the server restarted during it): its Hangup ends it."""
        record = self._record(row["uniqueid"])
        _restore(record, row)
        record.channel = channel

    def end_stored(self, row: Row) -> None:
        """End a stored unfinished call that Asterisk no longer has (it ended while the server was away)."""
        record = CallRecord(row["uniqueid"])
        _restore(record, row)
        self._end(record, datetime.now(UTC), VANISHED)

    def _end(self, record: CallRecord, at: datetime, cause: str | None) -> None:
        record.ended_at = at
        record.hangup_cause = cause
        facts = QueueFacts(
            dialled_hotline=record.dialled_number in (None, self.hotline_number),
            joined_queue=record.facts.get("joined_queue", False),
            answered=record.facts.get("answered", False),
            abandoned=record.facts.get("abandoned", False),
            timed_out=record.facts.get("timed_out", False),
            callback_requested=record.facts.get("callback_requested", False),
            voicemail=record.facts.get("voicemail", False),
        )
        record.outcome = final_outcome(facts).value
        if record.answered_at and record.talk_seconds is None:
            record.talk_seconds = round((record.ended_at - record.answered_at).total_seconds(), 3)
        logger.info("[%s] call from %s ended: %s", record.uniqueid, record.caller_number, record.outcome)
        self._changed(record)
        for listener in self.finished_listeners:
            listener(record)


def _restore(record: CallRecord, row: Row) -> None:
    """A stored row's fields and the queue facts they show, into a record."""
    for name in ROW_FIELDS:
        if row.get(name) is not None:
            setattr(record, name, row[name])
    record.facts["joined_queue"] = record.enqueued_at is not None
    record.facts["answered"] = record.answered_at is not None
