"""What a survey's end means: for an attempt (the carrier's answer to a call), for a campaign's quota, and for
the order whose return visit it was (the lifecycle's visit, evaluate, rehandle and unreachable actions)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from ivr.db.models import Campaign, Survey
from ivr.surveys.store import ANSWERED, SurveyStore
from ivr.workorders.actors import SYSTEM_ACTOR
from ivr.workorders.errors import ActionRefused
from ivr.workorders.service import OrderService
from routing import return_visits as visits
from routing.campaigns import quotas_from
from routing.survey import SATISFIED, Answer, consequence

logger = logging.getLogger(__name__)

_CALL_RESULTS = {"busy": visits.BUSY, "no_answer": visits.NO_ANSWER, "hung_up": visits.NO_ANSWER,
                 "congestion": visits.BUSY}


def call_outcome(result: str) -> str:
    """A call's result (routing.callbacks.ORIGINATE_REASONS) as a return-visit outcome."""
    return _CALL_RESULTS.get(result, visits.FAILED)


# Q.850 hang-up causes of a call that was not answered.
_CAUSES = {"17": visits.BUSY, "21": visits.BUSY, "34": visits.BUSY, "18": visits.NO_ANSWER, "19": visits.NO_ANSWER,
           "16": visits.NO_ANSWER}


def hangup_outcome(cause: str) -> str:
    return _CAUSES.get(cause, visits.FAILED)


def quota_reached(campaign: Campaign, unit: str, answered: int) -> bool:
    wanted = quotas_from(campaign.quotas).get(unit)
    return wanted is not None and answered >= wanted


def order_verdict(surveys: list[Survey]) -> tuple[bool, Answer] | None:
    """(satisfied, the answer that decides) from the round's answered visits; None if nobody answered. Every
    citizen of a merged order counts: one dissatisfied answer makes the order dissatisfied."""
    answered = [survey for survey in surveys if survey.status == ANSWERED and survey.rating]
    if not answered:
        return None
    unhappy = [survey for survey in answered if survey.rating not in SATISFIED]
    deciding = (unhappy or answered)[0]
    return not unhappy, Answer(deciding.solved, deciding.rating)


class OrderVisits:
    """Moves an order on when its round of visits has ended."""

    def __init__(self, store: SurveyStore, orders: OrderService) -> None:
        self.store = store
        self.orders = orders

    async def round_ended(self, order_id: int) -> None:
        now = datetime.now(UTC)
        verdict = order_verdict(await self.store.round_of(order_id))
        try:
            if verdict is None:
                await self.orders.act(order_id, "unreachable", SYSTEM_ACTOR, now,
                                      {"note": "回访未能联系到市民"})
                logger.info("order %d: nobody reached by the return visit", order_id)
                return
            satisfied, answer = verdict
            await self.orders.act(order_id, "visit", SYSTEM_ACTOR, now, {"satisfied": satisfied})
            next_step = consequence(answer)
            if next_step == "evaluate":
                await self.orders.act(order_id, "evaluate", SYSTEM_ACTOR, now)
            elif next_step == "rehandle":
                await self.orders.act(order_id, "rehandle", SYSTEM_ACTOR, now,
                                      {"note": "回访：问题未解决，不满意，重办"})
            else:
                await self.orders.record(order_id, SYSTEM_ACTOR, "review", now, "回访：已解决但不满意，待中心复核")
            logger.info("order %d: return visit %s → %s", order_id, answer.rating, next_step)
        except ActionRefused as refused:
            logger.warning("order %d: the return visit's result was not applied: %s", order_id, refused)
