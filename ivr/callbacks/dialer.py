"""The callback dialer: turns missed calls into callbacks and dials them when agents are free.

A missed call gets its callback once its row is in the database (CallWriter's listener), whoever wrote it:
the tracker, the spool after an outage, the queue log's recovery. What could not be recorded then (the
database went away in between, the row carried no number) is found by a sweep of the day's missed calls,
at start and after every failure; the insert is idempotent (one per number per day).

Dialling is AMI Originate through the carrier (ivr/ami/originate.py: a number the outbound rules refuse
is recorded as not dialled, never dialled); the result comes back as an OriginateResponse event carrying
our ActionID. Every status change is a conditional update in the database, so a restart loses no callback
and dials none twice.

A dial's result can be lost: the server dialling stopped or died, or its AMI connection dropped, before the
OriginateResponse came. Each dial's channel is named after the callback and attempt (`dial_id`), so every
server can tell what it did: every STALE_CHECK_SECONDS, a callback still 'dialling' STALE_MARGIN after its
ring time, and not awaited by this server, is settled once (a conditional update on the attempt) — answered
if its channel reached an agent, else counted as the attempt it was (RESULT_LOST) and dialled again after
`retry_minutes`, or given up after `max_attempts`; while its call is still up, its end decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy.exc import SQLAlchemyError

from ivr import dialplan_variables as var
from ivr.ami import events
from ivr.ami.client import AmiClient
from ivr.ami.errors import AmiError
from ivr.ami.originate import NotDialled, Originator, OutboundCall
from ivr.background import Background
from ivr.callbacks.store import SWEEP_PAGE, CallbackStore, StaleDial
from ivr.calls.tracker import Row
from ivr.db.models import Callback
from ivr.settings import Settings
from routing.callbacks import (
    MISSED_OUTCOMES,
    ORIGINATE_REASONS,
    after_attempt,
    callback_day,
    dials_allowed,
    stale_dial_result,
)

logger = logging.getLogger(__name__)
ACTION_PREFIX = "hotline-callback-"
CALLBACK_CONTEXT = "hotline-callback"
# A callback channel no longer on its way to the queue.
ARRIVED = (events.QUEUE_CALLER_JOIN, events.AGENT_CONNECT, events.HANGUP)
SWEEP_BACK = timedelta(days=1)  # how far back the sweep looks for missed calls without a callback
# An Originate's response comes within its ring time and a few seconds; this long after it, it never will
# (longer than the servers' clocks could differ, as another server's claim time is compared with ours).
STALE_MARGIN = timedelta(seconds=75)
STALE_CHECK_SECONDS = 15.0  # how often the dialer looks for dials whose result was lost
STALE_PAGE = 100  # stale dials settled per check (dials at once are bounded by the agents)


def dial_id(callback_id: int, attempt: int) -> str:
    """The ActionID of a callback's Originate and the uniqueid of its channel (Asterisk allows 149 characters,
    the call rows 64): any server finds what the attempt did by it."""
    return f"{ACTION_PREFIX}{callback_id}-{attempt}"


class Waiting(NamedTuple):
    callback_id: int
    attempt: int  # its result is recorded only while the callback is still at this attempt
    since: datetime  # when it was dialled: past STALE_MARGIN twice, its response is taken as lost


class CallbackDialer:
    EVENTS = (events.ORIGINATE_RESPONSE, events.AGENT_CONNECT, events.QUEUE_CALLER_JOIN, events.HANGUP)

    def __init__(self, settings: Settings, ami: AmiClient, store: CallbackStore,
                 originator: Originator | None = None) -> None:
        self.settings = settings
        self.ami = ami
        self.store = store
        self.originator = originator or Originator(settings, ami)
        self.dialling: dict[str, Waiting] = {}  # ActionID → its callback, while the phone rings
        self.channels: dict[str, int] = {}  # the callback channel's uniqueid → callback id
        self.stale_checked = float("-inf")  # the event loop's time of the last look for stale dials
        # Answered callbacks still hearing the greeting: not yet waiting in the queue, but each will need an
        # agent, so they count against the free agents as much as the ones still ringing.
        self.on_the_way: set[str] = set()
        self.background = Background("callback bookkeeping", logger)
        # Told each missed call's number once its callback is recorded (or found recorded already).
        self.recorded_listeners: list[Callable[[str], None]] = []
        self.unswept = True  # some missed call may lack its callback: sweep (at start, after a failure)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.sip.carrier_contact) and self.settings.callbacks.dial

    def call_written(self, row: Row) -> None:
        """CallWriter listener: a missed call's row is in the database, so its callback is recorded now."""
        if row.get("outcome") not in MISSED_OUTCOMES:
            return
        if not row.get("caller_number"):  # a queue-log filling carries only what it filled
            self.unswept = True
            return
        ended = row.get("ended_at") or row.get("started_at") or datetime.now(UTC)
        self.background.spawn(self._record_missed(row["caller_number"], ended, row["uniqueid"]))

    async def _record_missed(self, number: str, ended: datetime, origin: str) -> None:
        refused = self.originator.refuse(number, "callback")
        try:
            await self.store.add_missed(number, callback_day(ended, self.settings.timezone), origin,
                                        datetime.now(UTC), refused)
        except (SQLAlchemyError, OSError) as exc:
            self.unswept = True
            logger.warning("[%s] missed call's callback not recorded yet (%s): the next sweep records it", origin,
                           type(exc).__name__)
            return
        for listener in self.recorded_listeners:
            listener(number)

    async def sweep(self) -> int:
        """Record the callbacks of missed calls whose rows were written without one; returns how many calls
        were found (a page at a time, from the earliest)."""
        self.unswept = False
        since, after, found = datetime.now(UTC) - SWEEP_BACK, 0, 0
        try:
            while True:
                missed = await self.store.missed_without_callback(since, after)
                for call in missed:
                    await self._record_missed(call.number, call.at, call.uniqueid)
                found += len(missed)
                if len(missed) < SWEEP_PAGE:
                    break
                after = missed[-1].row_id
        except (SQLAlchemyError, OSError) as exc:
            self.unswept = True
            logger.warning("sweep for missed calls without a callback failed, tried again: %s", type(exc).__name__)
            return found
        if found:
            logger.info("%d missed call(s) found without a callback: recorded", found)
        return found

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
        if not self.enabled:
            logger.warning("callbacks are recorded but not dialled: set sip.carrier_contact")
        loop = asyncio.get_running_loop()
        while True:
            try:
                if self.unswept:
                    await self.sweep()
                if loop.time() - self.stale_checked >= STALE_CHECK_SECONDS:
                    self.stale_checked = loop.time()
                    await self.settle_stale_dials(datetime.now(UTC))
                if self.enabled:
                    await self.dial_what_is_allowed()
            except Exception:
                logger.exception("callback round failed; trying again")
            await asyncio.sleep(self.settings.callbacks.dial_interval)

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
            # Recorded pending before the rules (or the settings) changed: it is not dialled now either.
            kind = self.originator.refuse(callback.number, "callback")
            if kind is not None:
                await self.store.not_dialled(callback.id, kind, now, claimed=False)
            elif await self.store.claim(callback, dial_id(callback.id, callback.attempts + 1), now):
                await self._originate(callback)

    async def _originate(self, callback: Callback) -> None:
        dial = dial_id(callback.id, callback.attempts + 1)
        self.dialling[dial] = Waiting(callback.id, callback.attempts + 1, datetime.now(UTC))
        self.channels[dial] = callback.id  # its agent is recorded even if the OriginateResponse is lost
        logger.info("calling back %s (callback %d, attempt %d)", callback.number, callback.id, callback.attempts + 1)
        try:
            await self.originator.originate(OutboundCall(
                callback.number, "callback", CALLBACK_CONTEXT, self.settings.sip.hotline_number,
                self.settings.callbacks.ring_seconds, variables={var.CALLBACK_ID: str(callback.id)},
                action_id=dial, channel_id=dial))
        except NotDialled as exc:  # the last guard: `dial_what_is_allowed` looked already
            self._forget(dial)
            await self.store.not_dialled(callback.id, exc.kind, datetime.now(UTC), claimed=True)
        except AmiError as exc:
            self._forget(dial)
            await self._record_result(callback.id, "failed", callback.attempts + 1)
            logger.warning("callback %d not dialled: %s", callback.id, exc)

    def _forget(self, dial: str) -> None:
        self.dialling.pop(dial, None)
        self.channels.pop(dial, None)

    async def _attempt_ended(self, fields: Mapping[str, str]) -> None:
        dial = fields["ActionID"]  # also its channel's uniqueid
        waiting = self.dialling.pop(dial, None)
        if waiting is None:
            return
        answered = fields.get("Response") == "Success"
        result = "answered" if answered else ORIGINATE_REASONS.get(fields.get("Reason", ""), "failed")
        if answered:
            self.on_the_way.add(dial)
        else:
            self.channels.pop(dial, None)
        await self._record_result(waiting.callback_id, result, waiting.attempt)
        logger.info("callback %d: %s", waiting.callback_id, result)

    async def _record_result(self, callback_id: int, result: str, attempt: int) -> None:
        now = datetime.now(UTC)
        status, next_attempt = self._after(result, attempt, now)
        await self.store.finish_attempt(callback_id, attempt, status, result, next_attempt, now)

    def _after(self, result: str, attempts_done: int, now: datetime) -> tuple[str, datetime | None]:
        retry = timedelta(minutes=self.settings.callbacks.retry_minutes)
        return after_attempt(result, attempts_done, self.settings.callbacks.max_attempts, now, retry)

    async def settle_stale_dials(self, now: datetime) -> int:
        """Settle the dials whose result never came (see the module's doc); returns how many this server did."""
        ring = timedelta(seconds=self.settings.callbacks.ring_seconds)
        self._stop_waiting(now - ring - 2 * STALE_MARGIN)
        awaited = {waiting.callback_id for waiting in self.dialling.values()}
        settled = 0
        for stale in await self.store.stale_dials(now - ring - STALE_MARGIN, STALE_PAGE):
            result = stale_dial_result(stale.agent, stale.call_outcome)
            if stale.callback_id not in awaited and result is not None and await self._settle(stale, result, now):
                settled += 1
        return settled

    async def _settle(self, stale: StaleDial, result: str, now: datetime) -> bool:
        status, next_attempt = self._after(result, stale.attempts, now)
        if not await self.store.finish_attempt(stale.callback_id, stale.attempts, status, result, next_attempt, now):
            return False  # another server settled it, or its result came after all
        logger.warning("callback %d: attempt %d's result never came (%s): %s", stale.callback_id, stale.attempts,
                       stale.channel, status if result == "answered" else f"{status}, {result}")
        return True

    def _stop_waiting(self, before: datetime) -> None:
        """Our own dials whose response is overdue (the AMI connection dropped meanwhile): settled like others'."""
        for dial, waiting in list(self.dialling.items()):
            if waiting.since < before:
                del self.dialling[dial]
                logger.warning("callback %d: no OriginateResponse for %s, settled as lost", waiting.callback_id,
                               dial)

    async def close(self) -> None:
        await self.background.close()
