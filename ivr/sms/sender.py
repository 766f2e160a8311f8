"""The SMS sender: claims queued messages one at a time and hands each to Kannel's sendsms HTTP interface, with a
delivery report asked for. Woken when something is queued; looks anyway every `sms.poll_seconds`.

Kannel not reached (refused, no connection in time) or answering 5xx: the message goes back to the queue and is
tried again after a wait that doubles (never lost). Kannel refusing it (4xx): failed, with Kannel's answer. No
answer once the request went out: unknown, as a message a crash left sending (Kannel may have it: never sent
twice). Every log line names the message's id.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from yarl import URL

from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.sms import delivery
from ivr.sms.kannel import DLR_PATH, LOOPBACK, MAX_PARTS, SENDSMS_USER, server_url
from ivr.sms.store import Outgoing, SmsStore
from ivr.workorders.actors import mask_number
from routing.sms_text import UCS2, coding_of

logger = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Attempt:
    """One message handed (or not) to Kannel: outcome sent, retry, failed or unknown."""

    message_id: int
    number: str
    outcome: str
    detail: str
    retry_in: float = 0.0  # seconds, when it goes back to the queue


class SmsSender:
    def __init__(self, settings: Settings, secrets: Secrets, store: SmsStore, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.secrets = secrets
        self.store = store
        self.clock = clock
        self.listeners: list[Callable[[Attempt], None]] = []
        self.problem: str | None = None  # Kannel or the database, since the last message Kannel took
        self.sent = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._unsettled: list[tuple[Attempt, datetime | None]] = []  # outcomes the database was away for
        self._kannel_back = False

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def kannel_back(self) -> None:
        """Kannel (re)started: the messages waiting to be tried again are tried now."""
        self._kannel_back = True
        self._wake.set()

    def sendsms_url(self, message: Outgoing) -> URL:
        sms = self.settings.sms
        query = {"username": SENDSMS_USER, "password": self.secrets.sms_password, "to": message.number,
                 "from": sms.sender, "text": message.text, "charset": "UTF-8"}
        if coding_of(message.text) == UCS2:
            query["coding"] = "2"
        if sms.dlr:
            report = urllib.parse.urlencode({"token": self.secrets.sms_token, "id": message.id})
            query["dlr-mask"] = str(delivery.DLR_MASK)
            # Kannel fills in %d (the report's type) and %A (the SMSC's answer).
            query["dlr-url"] = f"{server_url(self.settings, DLR_PATH)}?{report}&status=%d&answer=%A"
        # Quoted here (a space as %20, + as %2B): Kannel reads a + as a space.
        encoded = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        return URL(f"http://{LOOPBACK}:{sms.sendsms_port}/cgi-bin/sendsms?{encoded}", encoded=True)

    async def run(self) -> None:
        sms = self.settings.sms
        timeout = aiohttp.ClientTimeout(total=None, connect=sms.http_timeout, sock_read=sms.http_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await self._recover()
            while not self._stopping:
                self._wake.clear()
                try:
                    await self._settle_left_over()
                    if self._kannel_back:
                        self._kannel_back = False
                        await self.store.due_now(self.clock())
                    attempt = await self.send_one(session)
                except (SQLAlchemyError, OSError) as exc:  # the database: tried again at the next poll
                    self.problem = f"database: {type(exc).__name__}: {str(exc)[:200]}"
                    logger.warning("sms sender: database unavailable (%s); trying again", type(exc).__name__)
                    pause = sms.poll_seconds
                except Exception:  # a bug: logged, and the sender goes on at the next poll
                    logger.exception("sms sender: unexpected error")
                    pause = sms.poll_seconds
                else:
                    if attempt is not None and attempt.outcome != delivery.RETRY:
                        await asyncio.sleep(sms.send_interval)  # the carrier's pace
                        continue
                    # Kannel did not take it: the next message waits as long (unless something wakes us)
                    pause = attempt.retry_in if attempt is not None else await self._idle_seconds()
                await self._pause(pause)

    async def stop(self, task: asyncio.Task[None]) -> None:
        """Lets the message being handed to Kannel finish (its outcome stored), then ends the task."""
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), self.settings.sms.http_timeout + 5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def send_one(self, session: aiohttp.ClientSession) -> Attempt | None:
        """Claim the oldest due message and hand it to Kannel; None when nothing is due."""
        message = await self.store.claim(self.clock())
        if message is None:
            return None
        next_at = None
        if message.parts > MAX_PARTS:
            attempt = Attempt(message.id, message.number, delivery.FAILED,
                              f"too long: {message.parts} parts, Kannel sends at most {MAX_PARTS}")
        else:
            attempt = await self._hand_over(session, message)
            if attempt.outcome == delivery.RETRY:
                wait = delivery.retry_wait(message.attempts, self.settings.sms.retry_seconds,
                                           self.settings.sms.retry_max_seconds)
                next_at = self.clock() + timedelta(seconds=wait)
                attempt = dataclasses.replace(attempt, detail=f"{attempt.detail}; again in {wait:g} s",
                                              retry_in=wait)
        await self._settle(attempt, next_at)
        return attempt

    async def _hand_over(self, session: aiohttp.ClientSession, message: Outgoing) -> Attempt:
        url = self.sendsms_url(message)
        try:
            async with session.get(url) as response:
                answer = (await response.text(errors="replace")).strip()[:300]
                status = response.status
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            return Attempt(message.id, message.number, delivery.RETRY,
                           f"Kannel not reached: {type(exc).__name__}: {exc}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Attempt(message.id, message.number, delivery.UNKNOWN,
                           f"no answer from Kannel once the request went out ({type(exc).__name__}: {exc}): "
                           "not sent again")
        return Attempt(message.id, message.number, delivery.outcome_of_answer(status), f"Kannel {status}: {answer}")

    async def _settle(self, attempt: Attempt, next_at: datetime | None) -> None:
        try:
            await self._store_outcome(attempt, next_at)
        except (SQLAlchemyError, OSError):
            self._unsettled.append((attempt, next_at))  # written once the database is back
            raise
        finally:
            self._report(attempt)

    async def _settle_left_over(self) -> None:
        while self._unsettled:
            await self._store_outcome(*self._unsettled[0])
            self._unsettled.pop(0)

    async def _store_outcome(self, attempt: Attempt, next_at: datetime | None) -> None:
        await self.store.settle(attempt.message_id, attempt.outcome, self.clock(),
                                None if attempt.outcome == delivery.SENT else attempt.detail, next_at)

    async def _pause(self, seconds: float) -> None:
        """Waits `seconds`, or less if something wakes the sender."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _report(self, attempt: Attempt) -> None:
        level = logging.INFO if attempt.outcome == delivery.SENT else logging.WARNING
        logger.log(level, "sms %d to %s: %s (%s)", attempt.message_id, mask_number(attempt.number), attempt.outcome,
                   attempt.detail)
        if attempt.outcome == delivery.SENT:
            self.sent += 1
            self.problem = None
        elif attempt.outcome in (delivery.RETRY, delivery.UNKNOWN):
            self.problem = f"sms {attempt.message_id}: {attempt.detail}"
        for listener in self.listeners:
            listener(attempt)

    async def _recover(self) -> None:
        """Messages a stopped server left sending become unknown, before anything is claimed."""
        while True:
            try:
                for message_id in await self.store.recover(self.clock()):
                    logger.warning("sms %d: left sending by a stopped server: marked unknown, not sent again "
                                   "(Kannel may have it)", message_id)
                return
            except (SQLAlchemyError, OSError) as exc:
                self.problem = f"database: {type(exc).__name__}"
                logger.warning("sms sender: database unavailable at start (%s); trying again", type(exc).__name__)
                await self._pause(self.settings.sms.poll_seconds)
                self._wake.clear()

    async def _idle_seconds(self) -> float:
        """Until the next message is due, at most a poll's time."""
        poll = self.settings.sms.poll_seconds
        try:
            due = await self.store.next_due()
        except (SQLAlchemyError, OSError):
            return poll
        if due is None:
            return poll
        return max(0.0, min(poll, (due - self.clock()).total_seconds()))
