"""Citizens' SMS, as Kannel passes them to /api/sms/incoming: each stored first (once per Kannel id, so a delivery
Kannel retries is handled once), then handled:

- 退订 / TD: the number goes on the do-not-contact list, and a confirmation is sent;
- a reply from a number whose survey SMS waits for one: its answers are stored on the survey, and the survey
  dialer is told (`survey_answered`); a reply that answers nothing is kept on the survey, and the citizen is told
  how to reply, the first time only;
- anything else (an unknown number, no survey waiting): an SMS work order (a draft, its text as sent) and an
  acknowledgement with the order's number (GB/T 33358: within 3 minutes; the sender is woken at once).

A message the server stopped in the middle of is handled at the next start (`recover`); each step is either in
the transaction that ends the handling or safe to do again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from ivr.db.models import Survey
from ivr.sms import delivery
from ivr.sms.sender import Clock, utc_now
from ivr.sms.store import Kept, Reply, SmsStore
from ivr.surveys.store import SurveyStore
from ivr.workorders.actors import mask_number
from routing.numbers import BadNumber, is_mobile, normalise
from routing.sms_text import LONGEST_TEXT, printable
from routing.survey import MalformedReply
from routing.survey_scripts import SCRIPTS, answers_from_sms, wants_no_contact

logger = logging.getLogger(__name__)
SurveyAnswered = Callable[[Survey], Awaitable[None]]
LONGEST_ID = 64
LONGEST_NUMBER = 32  # sms_messages.number; a phone number with a country code and separators fits easily

ACK_TEXT = "【12345热线】您的短信已收到，已登记为工单{number}，我们将尽快办理。查询进度请拨打12345并提供工单号。"
CLARIFY_INTRO = "未能识别您的回复。"
OPT_OUT_TEXT = "【12345热线】您已退订回访短信和电话，今后不再打扰。如需帮助请拨打12345。"

# What handling an SMS came to (Handled.outcome).
ORDER, ANSWERED, MALFORMED, OPTED_OUT, ENDED, EMPTY, DUPLICATE = (
    "order", "answered", "malformed", "opted_out", "ended", "empty", "duplicate")


class BadIncoming(ValueError):
    """What Kannel passed cannot be an SMS (no id, no sender's number, no text); says what was wrong."""


@dataclass(frozen=True)
class Incoming:
    kannel_id: str
    number: str  # the sender's, normalised
    text: str  # as sent


@dataclass(frozen=True)
class Handled:
    message_id: int
    outcome: str
    order_id: int | None = None
    order_number: str | None = None
    survey_id: int | None = None
    detail: str = ""


def cleaned(fields: Mapping[str, str]) -> dict[str, str]:
    """Kannel's fields without control characters: an SMS with a NUL in it is stored (PostgreSQL's text refuses
    NUL; answering 503 would have Kannel retry it until it gives up, and the SMS lost)."""
    return {name: printable(value) for name, value in fields.items()}


def parse(fields: Mapping[str, str]) -> Incoming:
    """The SMS in Kannel's fields (id=%I, from=%p, text=%a), `cleaned`; raises BadIncoming saying what is
    wrong."""
    kannel_id = fields.get("id", "").strip()
    if not kannel_id:
        raise BadIncoming("id is missing: Kannel's id of the message (%I), which makes a retried delivery count once")
    if len(kannel_id) > LONGEST_ID:
        raise BadIncoming(f"id is longer than {LONGEST_ID} characters")
    sender = fields.get("from", "")
    if not sender.strip():
        raise BadIncoming("from is missing: the sender's phone number")
    if len(sender) > LONGEST_NUMBER:
        raise BadIncoming(f"from is longer than {LONGEST_NUMBER} characters")
    try:
        number = normalise(sender)
    except BadNumber as exc:
        raise BadIncoming(f"from: {exc}") from None
    if "text" not in fields:
        raise BadIncoming("text is missing")
    if len(fields["text"]) > LONGEST_TEXT:
        raise BadIncoming(f"text is longer than an SMS can be ({LONGEST_TEXT} characters): its start is kept")
    return Incoming(kannel_id, number, fields["text"])


async def nobody_follows_up(survey: Survey) -> None:
    """The default survey_answered, until the survey dialer takes answers over."""


class SmsInbox:
    def __init__(self, store: SmsStore, surveys: SurveyStore, queued: Callable[[], None],
                 survey_answered: SurveyAnswered = nobody_follows_up, clock: Clock = utc_now) -> None:
        self.store = store
        self.surveys = surveys
        self.queued = queued  # an SMS was queued: the sender wakes
        self.survey_answered = survey_answered
        self.clock = clock
        self.handled_listeners: list[Callable[[Handled], None]] = []
        self._busy: dict[int, asyncio.Future[Handled]] = {}

    async def receive(self, incoming: Incoming) -> Handled:
        """Store the SMS, then handle it (a second delivery of the same message is not handled again)."""
        kept = await self.store.keep(incoming.kannel_id, incoming.number, incoming.text, self.clock())
        if kept.status != delivery.RECEIVED:
            logger.info("sms %d (in) delivered again by Kannel: handled already", kept.id)
            return Handled(kept.id, DUPLICATE, kept.order_id, survey_id=kept.survey_id)
        return await self.handle(kept)

    async def reject(self, fields: Mapping[str, str], reason: str) -> None:
        """Kept (when it has Kannel's id) as rejected, with the reason: nothing Kannel passed is lost unseen."""
        kannel_id = fields.get("id", "").strip()
        if kannel_id and len(kannel_id) <= LONGEST_ID:
            kept = await self.store.keep(kannel_id, fields.get("from", ""), fields.get("text", "")[:LONGEST_TEXT],
                                         self.clock(), status=delivery.REJECTED, error=reason)
            logger.warning("sms %d (in) rejected: %s", kept.id, reason)

    async def recover(self) -> int:
        """Handle the messages a stopped server had stored but not handled; how many."""
        waiting = await self.store.waiting()
        for kept in waiting:
            logger.info("sms %d (in): stored by a stopped server, handled now", kept.id)
            try:
                await self.handle(kept)
            except (SQLAlchemyError, OSError):
                raise  # the database: Kannel delivers the rest again (they were not answered 200)
            except Exception:  # one message's fault stops neither the others nor the server's start
                logger.exception("sms %d (in): not handled", kept.id)
        return len(waiting)

    async def handle(self, kept: Kept) -> Handled:
        """One at a time per message: a second request for it waits for the first one's outcome."""
        running = self._busy.get(kept.id)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Handled] = asyncio.get_running_loop().create_future()
        self._busy[kept.id] = future
        try:
            handled = await self._handle(await self.store.kept(kept.id))
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting for it
            raise
        finally:
            del self._busy[kept.id]
        future.set_result(handled)
        logger.info("sms %d (in) from %s: %s %s", kept.id, mask_number(kept.number), handled.outcome, handled.detail)
        for listener in self.handled_listeners:
            listener(handled)
        return handled

    async def _handle(self, kept: Kept) -> Handled:
        if kept.status != delivery.RECEIVED:
            return Handled(kept.id, DUPLICATE, kept.order_id, survey_id=kept.survey_id)
        now = self.clock()
        if not kept.text.strip():
            await self.store.handled(kept.id, "in", now, status=delivery.REJECTED, error="an empty SMS")
            return Handled(kept.id, EMPTY)
        if wants_no_contact(kept.text):
            return await self._opt_out(kept, now)
        survey = await self.surveys.get(kept.survey_id) if kept.survey_id else None
        if survey is None:
            survey = await self.surveys.waiting_reply(kept.number)
        if survey is not None:
            return await self._reply(kept, survey, now)
        return await self._order(kept, now)

    async def _opt_out(self, kept: Kept, now: datetime) -> Handled:
        await self.surveys.add_do_not_contact(kept.number, "replied 退订 by SMS", "sms", now)
        confirmation = self._reply_to(kept.number, OPT_OUT_TEXT, "optout", f"optout:{kept.id}")
        await self.store.handled(kept.id, "optout", now, reply=confirmation)
        self._queued(confirmation)
        return Handled(kept.id, OPTED_OUT)

    async def _reply(self, kept: Kept, survey: Survey, now: datetime) -> Handled:
        await self.store.matched(kept.id, survey.id, now)
        script = SCRIPTS[survey.script]
        try:
            answers = answers_from_sms(script, kept.text)
        except MalformedReply as exc:
            first = await self.surveys.note_reply(survey.id, kept.text, now)
            clarification = None
            if first:
                clarification = self._reply_to(kept.number, script.sms_text(CLARIFY_INTRO), "clarify",
                                               f"clarify:{survey.id}", survey_id=survey.id)
            await self.store.handled(kept.id, "reply", now, error=str(exc), reply=clarification)
            self._queued(clarification)
            return Handled(kept.id, MALFORMED, survey_id=survey.id,
                           detail=f"survey {survey.id}: {exc}" + ("; told how to reply" if clarification else ""))
        answered = await self.surveys.answer(survey.id, answers, via="sms", now=now, reply_text=kept.text)
        await self.store.handled(kept.id, "reply", now, error=None if answered else "the survey had ended")
        if answered is None:
            return Handled(kept.id, ENDED, survey_id=survey.id, detail=f"survey {survey.id} had ended")
        try:
            await self.survey_answered(answered)
        except Exception:  # the answers are stored; what follows them is the dialer's, and logged
            logger.exception("sms %d (in): survey %d answered, but what follows the answer failed", kept.id,
                             survey.id)
        return Handled(kept.id, ANSWERED, survey_id=survey.id, detail=f"survey {survey.id}: {answers}")

    async def _order(self, kept: Kept, now: datetime) -> Handled:
        def acknowledgement(order_id: int, order_number: str) -> Reply | None:
            return self._reply_to(kept.number, ACK_TEXT.format(number=order_number), "ack", f"ack:{order_id}",
                                  order_id=order_id)

        opened = await self.store.open_order(kept.id, kept.number, kept.text, now, acknowledgement)
        if opened is None:
            return Handled(kept.id, DUPLICATE)
        order_id, order_number = opened
        self.queued()
        return Handled(kept.id, ORDER, order_id, order_number, detail=f"order {order_number}")

    @staticmethod
    def _reply_to(number: str, text: str, purpose: str, dedup_key: str, survey_id: int | None = None,
                  order_id: int | None = None) -> Reply | None:
        """An SMS back, to a mobile (a landline cannot receive one)."""
        return Reply(number, text, purpose, dedup_key, survey_id, order_id) if is_mobile(number) else None

    def _queued(self, reply: Reply | None) -> None:
        if reply is not None:
            self.queued()
