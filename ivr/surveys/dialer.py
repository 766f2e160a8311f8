"""The survey dialer: plans the return visits of closed orders, then calls and texts citizens (visits and running
campaigns) inside the calling windows, never more calls at once than the outbound cap.

Calls are AMI Originates through the carrier into [hotline-survey], where our FastAGI asks the questions. Each
step is a conditional update (ivr/surveys/store.py), so a restart calls and texts no number twice; a stopping
server lets the calls in progress finish first. When the last visit of an order's round ends, the order moves on:
visited and evaluated, visited and waiting for re-handling or the centre's review, or unreachable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ivr import dialplan_variables as var
from ivr.ami import events
from ivr.ami.client import AmiClient
from ivr.ami.errors import AmiError
from ivr.ami.originate import NotDialled, Originator, OutboundCall
from ivr.background import Background
from ivr.db.models import Campaign, Survey, as_utc
from ivr.settings import Settings
from ivr.surveys import outcomes
from ivr.surveys.store import CALLING, DUE, ENDED, WAITING_REPLY, Planned, SurveyStore
from routing import return_visits as visits
from routing.callbacks import ORIGINATE_REASONS
from routing.numbers import is_mobile
from routing.survey_scripts import SCRIPTS

logger = logging.getLogger(__name__)
ACTION_PREFIX = "hotline-survey-"
SURVEY_CONTEXT = "hotline-survey"
ROUND_SIZE = 200  # surveys looked at per step and round
# A call still marked in progress this long after its last change was lost with a previous server.
LOST_CALL = timedelta(minutes=10)
CAUSE_WAIT = 2.0  # seconds the hang-up of a failed call may come after Asterisk's OriginateResponse


def windows_of(settings: Settings) -> tuple[visits.Window, ...]:
    found = []
    for window in settings.surveys.windows:
        start, _, end = window.partition("-")
        found.append(visits.Window(time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
    return tuple(found)


def rules_of(settings: Settings) -> tuple[visits.VisitRule, ...]:
    return tuple(visits.VisitRule(rule.order_type, rule.after_days, rule.within_days, rule.channels,
                                  rule.call_attempts) for rule in settings.surveys.rules)


def _not_dialled_step(kind: str) -> visits.Step:
    return visits.Step("unreachable", reason=f"not_dialled: {kind} number")


class SurveyDialer:
    EVENTS = (events.ORIGINATE_RESPONSE, events.HANGUP)

    def __init__(self, settings: Settings, ami: AmiClient, store: SurveyStore,
                 order_ended: Callable[[int], Awaitable[None]], originator: Originator | None = None) -> None:
        self.settings = settings
        self.ami = ami
        self.originator = originator or Originator(settings, ami)
        self.store = store
        self.order_ended = order_ended  # told the order id when all of a round's visits have ended
        self.zone = ZoneInfo(settings.timezone)
        self.windows = windows_of(settings)
        self.rules = rules_of(settings)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # tests move it to the next window
        self.dialling: dict[str, int] = {}  # ActionID → survey id, while the phone rings
        self.channels: dict[str, int] = {}  # the answered call's uniqueid (our ActionID) → survey id
        self.causes: dict[str, asyncio.Future[str]] = {}  # an unanswered call's hang-up cause, by its uniqueid
        self.stopping = False
        self.idle = asyncio.Event()  # set while no survey call is in progress
        self.idle.set()
        self.wakeup = asyncio.Event()
        self.background = Background("survey bookkeeping", logger)
        self.ended_listeners: list[Callable[[Survey], None]] = []  # every survey that ended (tests, progress)
        self.texted_listeners: list[Callable[[], None]] = []  # an SMS was queued: the sender wakes
        # A campaign's name, channels and quotas never change once it is imported: read once, not per number.
        self._campaigns: dict[int, Campaign | None] = {}

    @property
    def in_flight(self) -> int:
        return len(self.dialling) + len(self.channels)

    def now(self) -> datetime:
        return self.clock().astimezone(self.zone)

    def wake(self) -> None:
        self.wakeup.set()

    # The scheduler

    async def run(self) -> None:
        await self._recover_lost_calls()
        while not self.stopping:
            try:
                await self.round()
            except Exception:
                logger.exception("survey round failed; trying again")
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), self.settings.surveys.interval)
            except TimeoutError:
                pass

    async def round(self) -> None:
        if not self.settings.surveys.dial or self.stopping:
            return
        await self.plan_visits()
        await self._expire_replies()
        now = self.now()
        if visits.open_at(now, self.windows) > now:
            return  # outside the calling windows (a campaign's numbers are due from their import on)
        await self._send_texts()
        await self._place_calls()

    async def plan_visits(self) -> int:
        """Each newly closed order's citizens get their visit's first step (or end at once as unreachable)."""
        blocked = await self.store.do_not_contact()
        orders = await self.store.closed_unvisited(ROUND_SIZE)
        for order in orders:
            rule = visits.rule_for(order.type, self.rules)
            closed = as_utc(order.closed_at).astimezone(self.zone)
            citizens = await self.store.citizens(order.id, order.caller_number)
            planned = [Planned(number, self._not_dialled(number) or visits.first_step(
                visits.Visit(closed), rule, self.windows, number, blocked, is_mobile(number))) for number in citizens]
            await self.store.plan_visits(order.id, order.closed_at, planned, self.clock())
            logger.info("order %s: return visit planned for %d citizen(s)", order.number, len(planned))
            if not planned or all(citizen.step.action == "unreachable" for citizen in planned):
                await self.order_ended(order.id)
        return len(orders)

    async def _place_calls(self) -> None:
        room = visits.may_start(self.in_flight, self.settings.surveys.max_calls)
        if room == 0 or not self.settings.sip.carrier_contact or not self.ami.connected:
            return
        now = self.now()
        for survey in await self.store.due("call", now, room):
            refused = self._not_dialled(survey.number)
            if refused is not None:  # planned or imported before the rules (or the settings) changed
                if await self.store.step(survey, DUE, refused, self.clock(), refused.reason):
                    await self._stepped(survey.id, refused)
                continue
            if await self._over_quota(survey) or not await self.store.claim_call(survey, self.clock()):
                continue
            await self._originate(survey)
            if visits.may_start(self.in_flight, self.settings.surveys.max_calls) == 0:
                break

    async def _send_texts(self) -> None:
        now = self.now()
        for survey in await self.store.due("sms", now, ROUND_SIZE):
            if await self._over_quota(survey):
                continue
            visit = self._visit_of(survey)
            _texted, step = visits.after_attempt(visit, visits.SMS_SENT, now, await self._rule_of(survey),
                                                     self.windows, True)
            if await self.store.text(survey, await self._sms_text(survey), step, self.clock()):
                logger.info("survey %d: SMS queued to %s", survey.id, survey.number)
                for listener in self.texted_listeners:
                    listener()

    async def _expire_replies(self) -> None:
        """An SMS nobody answered by the deadline: the next channel, or the visit ends unreachable."""
        now = self.now()
        for survey in await self.store.due("wait_reply", now, ROUND_SIZE):
            _visit, step = visits.after_attempt(self._visit_of(survey), visits.NO_REPLY, now,
                                                await self._rule_of(survey), self.windows, is_mobile(survey.number))
            if await self.store.step(survey, WAITING_REPLY, step, self.clock(), visits.NO_REPLY):
                await self._stepped(survey.id, step)

    # Calls

    async def _originate(self, survey: Survey) -> None:
        action_id = f"{ACTION_PREFIX}{survey.id}-{survey.calls + 1}"
        self.dialling[action_id] = survey.id
        self.idle.clear()
        logger.info("survey %d: calling %s (attempt %d)", survey.id, survey.number, survey.calls + 1)
        try:
            await self.originator.originate(OutboundCall(
                survey.number, "survey", SURVEY_CONTEXT, self.settings.sip.hotline_number,
                self.settings.surveys.ring_seconds, variables={var.SURVEY_ID: str(survey.id)}, action_id=action_id,
                channel_id=action_id))  # the channel's uniqueid: its hang-up (and cause) is found by it
        except NotDialled as exc:  # the last guard: `_place_calls` looked already
            self.dialling.pop(action_id, None)
            self._settle()
            step = _not_dialled_step(exc.kind)
            if await self.store.call_ended(survey.id, step.reason, step, self.clock()):
                await self._stepped(survey.id, step)
        except AmiError as exc:
            self.dialling.pop(action_id, None)
            self._settle()
            logger.warning("survey %d not dialled: %s", survey.id, exc)
            await self._call_ended(survey.id, visits.FAILED)

    def handle(self, name: str, fields: Mapping[str, str]) -> None:
        """AMI sink: our Originates' results, and the hang-ups of survey calls (their cause tells busy from
        unanswered: Asterisk's OriginateResponse says only "failure" for both)."""
        action_id = fields.get("ActionID", "")
        if name == events.ORIGINATE_RESPONSE and action_id in self.dialling:
            survey_id = self.dialling.pop(action_id)
            if fields.get("Response") == "Success":
                self.channels[action_id] = survey_id
            else:
                reason = ORIGINATE_REASONS.get(fields.get("Reason", ""), visits.FAILED)
                self.background.spawn(self._unanswered(survey_id, action_id, reason))
        elif name == events.HANGUP and fields.get("Uniqueid", "").startswith(ACTION_PREFIX):
            channel = fields["Uniqueid"]
            if channel in self.channels:
                self.background.spawn(self._call_ended(self.channels.pop(channel), visits.ANSWERED, channel))
            else:
                self.causes.setdefault(channel, asyncio.get_running_loop().create_future())
                if not self.causes[channel].done():
                    self.causes[channel].set_result(fields.get("Cause", ""))
        self._settle()

    async def _unanswered(self, survey_id: int, channel: str, reason: str) -> None:
        cause = self.causes.setdefault(channel, asyncio.get_running_loop().create_future())
        try:
            found = await asyncio.wait_for(asyncio.shield(cause), CAUSE_WAIT) if reason == visits.FAILED else ""
        except TimeoutError:
            found = ""
        finally:
            self.causes.pop(channel, None)
        result = outcomes.hangup_outcome(found) if found else outcomes.call_outcome(reason)
        await self._call_ended(survey_id, result)

    def _settle(self) -> None:
        if not self.in_flight:
            self.idle.set()

    async def _call_ended(self, survey_id: int, outcome: str, channel: str | None = None) -> None:
        """A call's end: answered calls ended the survey already (the flow recorded the answers); a call that was
        picked up and left without an answer counts as unanswered."""
        survey = await self.store.get(survey_id)
        self.wake()
        if survey is None or survey.status != CALLING:
            return
        if outcome == visits.ANSWERED:
            outcome = visits.NO_ANSWER
        # The call was counted when it was claimed; the rules count it from the attempt's outcome.
        _visit, step = visits.after_attempt(self._visit_of(survey, survey.calls - 1), outcome, self.now(),
                                            await self._rule_of(survey), self.windows, is_mobile(survey.number))
        if await self.store.call_ended(survey_id, outcome, step, self.clock(), channel):
            logger.info("survey %d: call %s, next %s %s", survey_id, outcome, step.action,
                        f"at {step.at:%Y-%m-%d %H:%M}" if step.at else step.reason)
            await self._stepped(survey_id, step)

    async def _recover_lost_calls(self) -> None:
        """Calls a previous server left in progress: counted as made (never redialled in the same window)."""
        for survey in await self.store.calls_in_flight():
            if survey.updated_at < self.clock() - LOST_CALL:
                logger.warning("survey %d: its call was in progress when the server stopped", survey.id)
                await self._call_ended(survey.id, "interrupted")

    # Answers (from the phone flow; the SMS channel calls survey_answered)

    async def answered(self, survey_id: int, answers: Mapping[str, str], channel: str) -> Survey | None:
        survey = await self.store.answer(survey_id, answers, "phone", self.clock(), channel=channel)
        if survey is not None:
            logger.info("survey %d answered by phone: %s", survey_id, dict(answers))
            await self.survey_answered(survey)
        return survey

    async def comment_taken(self, survey_id: int, path: str, order_id: int | None) -> None:
        await self.store.comment(survey_id, path, order_id, self.clock())

    async def survey_answered(self, survey: Survey) -> None:
        await self._ended(survey)

    async def _stepped(self, survey_id: int, step: visits.Step) -> None:
        """After a step was written: a step that ended the survey ends it here too."""
        if step.action in ("done", "unreachable"):
            survey = await self.store.get(survey_id)
            if survey is not None and survey.status in ENDED:
                await self._ended(survey)

    async def _ended(self, survey: Survey) -> None:
        if survey.order_id is not None and await self.store.round_over(survey.order_id, survey.round):
            await self.order_ended(survey.order_id)
        for listener in self.ended_listeners:
            listener(survey)

    # Campaigns

    async def _rule_of(self, survey: Survey) -> visits.VisitRule:
        if survey.campaign_id is None:
            return visits.rule_for(await self.store.order_type(survey.order_id), self.rules)
        campaign = await self._campaign(survey.campaign_id)
        channels = tuple(channel for channel in campaign.channels.split(",") if channel) if campaign else ("phone",)
        default = visits.rule_for("*", self.rules)
        return visits.VisitRule("*", 0, self.settings.surveys.campaign_days, channels, default.call_attempts)

    async def _over_quota(self, survey: Survey) -> bool:
        if survey.campaign_id is None or survey.unit is None or survey.calls or survey.texted:
            return False
        campaign = await self._campaign(survey.campaign_id)
        if campaign is None or not outcomes.quota_reached(campaign, survey.unit,
                                                          await self.store.answered_in(campaign.id, survey.unit)):
            return False
        left_out = await self.store.quota_met(campaign.id, survey.unit, self.clock())
        logger.info("campaign %d: unit %s reached its quota, %d number(s) left out", campaign.id, survey.unit,
                    left_out)
        return True

    async def _sms_text(self, survey: Survey) -> str:
        script = SCRIPTS[survey.script]
        if survey.order_id is not None:
            number = await self.store.order_number(survey.order_id)
            return script.sms_text(f"您反映的问题（工单{number}）已办结，请评价。")
        campaign = await self._campaign(survey.campaign_id or 0)
        return script.sms_text(f"{campaign.name if campaign else script.title}，")

    async def _campaign(self, campaign_id: int) -> Campaign | None:
        if campaign_id not in self._campaigns:
            self._campaigns[campaign_id] = await self.store.campaign(campaign_id)
        return self._campaigns[campaign_id]

    def _not_dialled(self, number: str) -> visits.Step | None:
        """The visit's end for a number the outbound rules never call (routing/dialable.py), else None."""
        kind = self.originator.refuse(number, "survey")
        return None if kind is None else _not_dialled_step(kind)

    def _visit_of(self, survey: Survey, calls: int | None = None) -> visits.Visit:
        return visits.Visit(survey.closed_at.astimezone(self.zone), survey.calls if calls is None else calls,
                            survey.texted)

    # Stopping

    async def stop(self) -> None:
        """No new calls; the calls in progress may finish (settings.surveys.shutdown_wait at most)."""
        self.stopping = True
        self.wake()
        try:
            await asyncio.wait_for(self.idle.wait(), self.settings.surveys.shutdown_wait)
        except TimeoutError:
            logger.warning("%d survey call(s) still in progress at shutdown", self.in_flight)
        await self.background.finish(timeout=5)


