"""The callback dialer: turns missed calls into callbacks and dials them when agents are free.

Dialling is AMI Originate through the carrier; the result comes back as an OriginateResponse event
carrying our ActionID. Every status change is a conditional update in the database, so a restart
loses no callback and dials none twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from ivr import dialplan_variables as var
from ivr.ami import events
from ivr.ami.client import AmiClient
from ivr.ami.errors import AmiError
from ivr.background import Background
from ivr.callbacks.store import CallbackStore
from ivr.calls.tracker import CallRecord
from ivr.db.models import Callback
from ivr.settings import Settings
from routing.callbacks import MISSED_OUTCOMES, ORIGINATE_REASONS, after_attempt, callback_day, dials_allowed

logger = logging.getLogger(__name__)
ACTION_PREFIX = "hotline-callback-"
CALLBACK_CONTEXT = "hotline-callback"
# A callback channel no longer on its way to the queue.
ARRIVED = (events.QUEUE_CALLER_JOIN, events.AGENT_CONNECT, events.HANGUP)


class CallbackDialer:
    EVENTS = (events.ORIGINATE_RESPONSE, events.AGENT_CONNECT, events.QUEUE_CALLER_JOIN, events.HANGUP)

    def __init__(self, settings: Settings, ami: AmiClient, store: CallbackStore) -> None:
        self.settings = settings
        self.ami = ami
        self.store = store
        self.dialling: dict[str, int] = {}  # ActionID → callback id, while the phone rings
        self.channels: dict[str, int] = {}  # the callback channel's uniqueid → callback id
        # Answered callbacks still hearing the greeting: not yet waiting in the queue, but each will need an
        # agent, so they count against the free agents as much as the ones still ringing.
        self.on_the_way: set[str] = set()
        self.background = Background("callback bookkeeping", logger)
        # Told each missed call's number once its callback is recorded (or found recorded already).
        self.recorded_listeners: list[Callable[[str], None]] = []

    @property
    def enabled(self) -> bool:
        return bool(self.settings.sip.carrier_contact) and self.settings.callbacks.dial

    def call_finished(self, record: CallRecord) -> None:
        """Tracker listener: a missed call becomes a callback (one per number per day)."""
        if record.outcome in MISSED_OUTCOMES and record.caller_number:
            now = datetime.now(UTC)
            day = callback_day(now, self.settings.timezone)
            self.background.spawn(self._record_missed(record.caller_number, day, record.uniqueid, now))

    async def _record_missed(self, number: str, day: str, origin: str, now: datetime) -> None:
        await self.store.add_missed(number, day, origin, now)
        for listener in self.recorded_listeners:
            listener(number)

    def handle(self, name: str, fields: Mapping[str, str]) -> None:
        """AMI sink: the results of our Originates, and which agent took a callback."""
        if name == events.ORIGINATE_RESPONSE and fields.get("ActionID", "").startswith(ACTION_PREFIX):
            self.background.spawn(self._attempt_ended(fields))
        elif name in ARRIVED and fields.get("Uniqueid") in self.on_the_way:
            self.on_the_way.discard(fields["Uniqueid"])
        if name == events.AGENT_CONNECT and fields.get("Uniqueid") in self.channels:
            self.background.spawn(self.store.connected_to(fields["Uniqueid"], fields.get("MemberName", ""),
                                                datetime.now(UTC)))
        elif name == events.HANGUP:
            self.channels.pop(fields.get("Uniqueid", ""), None)

    async def run(self) -> None:
        stale = await self.store.abandon_stale_dials(datetime.now(UTC) - timedelta(minutes=2), datetime.now(UTC))
        if stale:
            logger.warning("%d callback(s) were being dialled when the server stopped: marked unknown", stale)
        if not self.enabled:
            logger.warning("callbacks are recorded but not dialled: set sip.carrier_contact")
            return
        while True:
            await asyncio.sleep(self.settings.callbacks.dial_interval)
            try:
                await self.dial_what_is_allowed()
            except Exception:
                logger.exception("callback round failed; trying again")

    async def dial_what_is_allowed(self) -> None:
        state = self.ami.queue_state
        # Callbacks return to the default line: its free agents and its waiting callers decide.
        view = state.queues.get(self.settings.line_queue(self.settings.routing.default_line))
        if not self.ami.connected or state.stale or view is None:
            return
        free = sum(member.available for member in view.members.values())
        allowed = dials_allowed(free, len(view.waiting), len(self.dialling) + len(self.on_the_way))
        if allowed == 0:
            return
        now = datetime.now(UTC)
        for callback in await self.store.due(now, allowed):
            if await self.store.claim(callback.id, now):
                await self._originate(callback)

    async def _originate(self, callback: Callback) -> None:
        action_id = f"{ACTION_PREFIX}{callback.id}-{callback.attempts + 1}"
        self.dialling[action_id] = callback.id
        logger.info("calling back %s (callback %d, attempt %d)", callback.number, callback.id, callback.attempts + 1)
        try:
            await self.ami.action({
                "Action": "Originate", "ActionID": action_id, "Channel": f"PJSIP/{callback.number}@carrier",
                "Context": CALLBACK_CONTEXT, "Exten": "s", "Priority": "1",
                "Timeout": str(self.settings.callbacks.ring_seconds * 1000),
                "CallerID": self.settings.sip.hotline_number, "Variable": f"{var.CALLBACK_ID}={callback.id}",
                "Async": "true",
            })
        except AmiError as exc:
            self.dialling.pop(action_id, None)
            await self._record_result(callback.id, "failed", None, attempts_done=callback.attempts + 1)
            logger.warning("callback %d not dialled: %s", callback.id, exc)

    async def _attempt_ended(self, fields: Mapping[str, str]) -> None:
        callback_id = self.dialling.pop(fields["ActionID"], None)
        if callback_id is None:
            return
        answered = fields.get("Response") == "Success"
        result = "answered" if answered else ORIGINATE_REASONS.get(fields.get("Reason", ""), "failed")
        channel = fields.get("Uniqueid") if answered else None
        if channel:
            self.channels[channel] = callback_id
            self.on_the_way.add(channel)
        callback = await self.store.get(callback_id)
        attempts = callback.attempts if callback else self.settings.callbacks.max_attempts
        await self._record_result(callback_id, result, channel, attempts)
        logger.info("callback %d: %s", callback_id, result)

    async def _record_result(self, callback_id: int, result: str, channel: str | None, attempts_done: int) -> None:
        now = datetime.now(UTC)
        retry = timedelta(minutes=self.settings.callbacks.retry_minutes)
        status, next_attempt = after_attempt(result, attempts_done, self.settings.callbacks.max_attempts, now, retry)
        await self.store.finish_attempt(callback_id, status, result, next_attempt, now, channel)

    async def close(self) -> None:
        await self.background.close()
