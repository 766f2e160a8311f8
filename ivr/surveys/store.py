"""Surveys in the database: return visits and campaign numbers, each one citizen to ask. Every change of status
is a conditional update (from the status it was read in), so a survey is called or texted once even when two
rounds, or a restarted server, look at it at the same time; an SMS is queued in the same transaction as the
step that sends it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.db.engine import upsert_insert
from ivr.db.models import Campaign, DoNotContact, Survey, SurveyAnswer, WorkOrder, as_utc
from ivr.sms.outbox import enqueue
from routing import return_visits as visits
from routing.survey_scripts import SCRIPTS, rating_and_solved

# Survey statuses. DUE: its next step (call, sms, wait_reply) comes at next_at.
DUE, CALLING, WAITING_REPLY = "due", "calling", "waiting_reply"
ANSWERED, UNREACHABLE, QUOTA_MET, CANCELLED = "answered", "unreachable", "quota_met", "cancelled"
ENDED = (ANSWERED, UNREACHABLE, QUOTA_MET, CANCELLED)
LIVE = (DUE, CALLING, WAITING_REPLY)


@dataclass(frozen=True)
class Planned:
    """A citizen to visit, and the visit's first step."""

    number: str
    step: visits.Step


def row_of(row: Any) -> Survey:
    survey = Survey(**row._asdict())
    survey.closed_at = as_utc(survey.closed_at)
    survey.updated_at = as_utc(survey.updated_at)
    survey.next_at = as_utc(survey.next_at) if survey.next_at else None
    return survey


def step_values(step: visits.Step) -> dict[str, Any]:
    """A step as the survey's columns."""
    at = step.at.astimezone(UTC) if step.at else None  # stored in UTC (SQLite keeps the wall time as given)
    if step.action in ("call", "sms"):
        return {"status": DUE, "next_action": step.action, "next_at": at}
    if step.action == "wait_reply":
        return {"status": WAITING_REPLY, "next_action": "wait_reply", "next_at": at}
    if step.action == "done":
        return {"status": ANSWERED, "next_action": None, "next_at": None}
    return {"status": UNREACHABLE, "next_action": None, "next_at": None, "last_result": step.reason[:64] or None}


class SurveyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = upsert_insert(engine)

    # Return visits

    async def closed_unvisited(self, limit: int) -> list[Any]:
        """Closed orders whose citizens have not been given this round's visit."""
        planned = exists().where(Survey.order_id == WorkOrder.id, Survey.closed_at == WorkOrder.closed_at)
        query = (select(WorkOrder.id, WorkOrder.type, WorkOrder.caller_number, WorkOrder.closed_at, WorkOrder.number)
                 .where(WorkOrder.status == "closed", WorkOrder.closed_at.is_not(None), ~planned)
                 .order_by(WorkOrder.closed_at).limit(limit))
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

    async def citizens(self, order_id: int, caller: str | None) -> list[str]:
        """The order's citizen and those of the orders merged into it (并单: each of them is visited)."""
        async with self.engine.connect() as connection:
            merged = (await connection.execute(
                select(WorkOrder.caller_number).where(WorkOrder.merged_into_id == order_id)
                .order_by(WorkOrder.id))).scalars().all()
        numbers = [number for number in (caller, *merged) if number]
        return list(dict.fromkeys(numbers))

    async def plan_visits(self, order_id: int, closed_at: datetime, planned: Sequence[Planned],
                          now: datetime) -> None:
        """This round's visits of an order (a later round after 重办); the same round planned twice adds nothing."""
        async with self.engine.begin() as connection:
            round_ = int((await connection.execute(
                select(func.coalesce(func.max(Survey.round), 0)).where(Survey.order_id == order_id,
                                                                        Survey.closed_at != closed_at))
            ).scalar_one()) + 1
            for citizen in planned:
                values = {"order_id": order_id, "round": round_, "number": citizen.number, "script": "return_visit",
                          "closed_at": closed_at, "calls": 0, "texted": False, "appeal": "none",
                          "created_at": now, "updated_at": now} | step_values(citizen.step)
                await connection.execute(self._insert(Survey).values(**values).on_conflict_do_nothing(
                    index_elements=["order_id", "number", "round"]))

    async def of_order(self, order_id: int) -> list[Survey]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(Survey).where(Survey.order_id == order_id).order_by(Survey.round, Survey.id))).all()
        return [row_of(row) for row in rows]

    async def answers(self, survey_ids: Sequence[int]) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {survey_id: {} for survey_id in survey_ids}
        if not survey_ids:
            return found
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(SurveyAnswer).where(SurveyAnswer.survey_id.in_(survey_ids)))).all()
        for row in rows:
            found[row.survey_id][row.question] = row.answer
        return found

    # The dialer's steps

    async def due(self, action: str, now: datetime, limit: int) -> list[Survey]:
        """Surveys whose step `action` has come: return visits, and numbers of running campaigns."""
        status = WAITING_REPLY if action == "wait_reply" else DUE
        running = exists().where(Campaign.id == Survey.campaign_id, Campaign.status == "running")
        query = (select(Survey)
                 .where(Survey.status == status, Survey.next_action == action, Survey.next_at <= now,
                        or_(Survey.campaign_id.is_(None), running))
                 .order_by(Survey.next_at, Survey.id).limit(limit))
        async with self.engine.connect() as connection:
            return [row_of(row) for row in (await connection.execute(query)).all()]

    async def claim_call(self, survey: Survey, now: datetime) -> bool:
        """due → calling, the call counted before it is placed (a crash mid-call never calls it again unseen)."""
        return await self._move(survey.id, DUE, now, status=CALLING, calls=Survey.calls + 1)

    async def call_ended(self, survey_id: int, result: str, step: visits.Step, now: datetime,
                         channel: str | None = None) -> bool:
        values = step_values(step) | {"last_result": result}
        if channel:
            values["channel_uniqueid"] = channel
        return await self._move(survey_id, CALLING, now, **values)

    async def calls_in_flight(self) -> list[Survey]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(Survey).where(Survey.status == CALLING))).all()
        return [row_of(row) for row in rows]

    async def text(self, survey: Survey, text: str, step: visits.Step, now: datetime) -> bool:
        """due → waiting for the reply, and the survey SMS queued, in one transaction."""
        async with self.engine.begin() as connection:
            moved = await self._move_in(connection, survey.id, DUE, now, texted=True, last_result="sms_sent",
                                        **step_values(step))
            if moved:
                await enqueue(connection, number=survey.number, text=text, purpose="survey",
                              dedup_key=f"survey:{survey.id}", survey_id=survey.id, order_id=survey.order_id, now=now)
        return moved

    async def step(self, survey: Survey, expected: str, step: visits.Step, now: datetime, result: str) -> bool:
        return await self._move(survey.id, expected, now, **step_values(step) | {"last_result": result})

    async def quota_met(self, campaign_id: int, unit: str, now: datetime) -> int:
        """The unit's answers reached its quota: its numbers not yet asked are left out."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(Survey).where(Survey.campaign_id == campaign_id, Survey.unit == unit, Survey.status == DUE,
                                     Survey.calls == 0, Survey.texted.is_(False))
                .values(status=QUOTA_MET, next_action=None, next_at=None, updated_at=now))
        return int(result.rowcount)

    # Answers

    async def waiting_reply(self, number: str) -> Survey | None:
        """The survey a reply from this number answers: the latest one texted and not yet answered."""
        query = (select(Survey).where(Survey.number == number, Survey.texted.is_(True),
                                      Survey.status.in_((WAITING_REPLY, DUE, CALLING)))
                 .order_by(Survey.updated_at.desc(), Survey.id.desc()).limit(1))
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return row_of(row) if row else None

    async def answer(self, survey_id: int, answers: Mapping[str, str], via: str, now: datetime,
                     reply_text: str | None = None, channel: str | None = None) -> Survey | None:
        """The citizen's answers: the survey ends as answered. None if it had ended already (a second reply)."""
        async with self.engine.begin() as connection:
            row = (await connection.execute(select(Survey).where(Survey.id == survey_id))).first()
            if row is None or row.status in ENDED:
                return None
            rating, solved = rating_and_solved(SCRIPTS[row.script], answers)
            values: dict[str, Any] = {"status": ANSWERED, "next_action": None, "next_at": None, "answered_via": via,
                                      "answered_at": now, "rating": rating, "solved": solved,
                                      "last_result": "answered"}
            if reply_text is not None:
                values["reply_text"] = reply_text
            if channel:
                values["channel_uniqueid"] = channel
            if not await self._move_in(connection, survey_id, row.status, now, **values):
                return None
            for question, answer in answers.items():
                await connection.execute(self._insert(SurveyAnswer).values(
                    survey_id=survey_id, question=question, answer=answer).on_conflict_do_nothing(
                    index_elements=["survey_id", "question"]))
            changed = (await connection.execute(select(Survey).where(Survey.id == survey_id))).one()
        return row_of(changed)

    async def note_reply(self, survey_id: int, text: str, now: datetime) -> bool:
        """A reply that answers nothing, kept on the survey; True the first time (the citizen is told once how to
        reply)."""
        async with self.engine.begin() as connection:
            before = (await connection.execute(select(Survey.reply_text).where(Survey.id == survey_id))).scalar()
            await connection.execute(update(Survey).where(Survey.id == survey_id)
                                     .values(reply_text=text, updated_at=now))
        return before is None

    async def comment(self, survey_id: int, path: str, order_id: int | None, now: datetime) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(Survey).where(Survey.id == survey_id).values(
                comment_path=path, comment_order_id=order_id, updated_at=now))

    async def get(self, survey_id: int) -> Survey | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(Survey).where(Survey.id == survey_id))).first()
        return row_of(row) if row else None

    async def round_over(self, order_id: int, round_: int) -> bool:
        """Whether every visit of this round of the order has ended."""
        async with self.engine.connect() as connection:
            live = (await connection.execute(
                select(func.count()).select_from(Survey).where(Survey.order_id == order_id, Survey.round == round_,
                                                               Survey.status.in_(LIVE)))).scalar_one()
        return int(live) == 0

    async def round_of(self, order_id: int) -> list[Survey]:
        """The visits of the order's latest round."""
        surveys = await self.of_order(order_id)
        latest = max((survey.round for survey in surveys), default=0)
        return [survey for survey in surveys if survey.round == latest]

    async def order_type(self, order_id: int | None) -> str:
        async with self.engine.connect() as connection:
            found = (await connection.execute(select(WorkOrder.type).where(WorkOrder.id == order_id))).scalar()
        return str(found or "*")

    async def order_number(self, order_id: int) -> str:
        async with self.engine.connect() as connection:
            found = (await connection.execute(select(WorkOrder.number).where(WorkOrder.id == order_id))).scalar()
        return str(found or order_id)

    async def campaign(self, campaign_id: int) -> Campaign | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(Campaign).where(Campaign.id == campaign_id))).first()
        return Campaign(**row._asdict()) if row else None

    async def answered_in(self, campaign_id: int, unit: str) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(
                select(func.count()).select_from(Survey).where(Survey.campaign_id == campaign_id, Survey.unit == unit,
                                                               Survey.status == ANSWERED))).scalar_one())

    # Do not contact

    async def do_not_contact(self) -> set[str]:
        async with self.engine.connect() as connection:
            return set((await connection.execute(select(DoNotContact.number))).scalars().all())

    async def add_do_not_contact(self, number: str, reason: str, by: str, now: datetime) -> None:
        """The number is never called nor texted again: its live surveys end as unreachable."""
        async with self.engine.begin() as connection:
            await connection.execute(self._insert(DoNotContact).values(
                number=number, reason=reason, added_by=by, added_at=now).on_conflict_do_nothing(
                index_elements=["number"]))
            await connection.execute(
                update(Survey).where(Survey.number == number, Survey.status.in_((DUE, WAITING_REPLY)))
                .values(status=UNREACHABLE, next_action=None, next_at=None, last_result="do-not-contact",
                        updated_at=now))

    async def remove_do_not_contact(self, number: str) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(delete(DoNotContact).where(DoNotContact.number == number))
        return bool(result.rowcount)

    # Appeals

    async def set_appeal(self, survey_id: int, expected: str, appeal: str, reason: str | None,
                         now: datetime) -> bool:
        values: dict[str, Any] = {"appeal": appeal}
        if reason is not None:
            values["appeal_reason"] = reason
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(Survey).where(Survey.id == survey_id, Survey.appeal == expected).values(updated_at=now,
                                                                                              **values))
        return bool(result.rowcount == 1)

    # Helpers

    async def _move(self, survey_id: int, expected: str, now: datetime, **values: Any) -> bool:
        async with self.engine.begin() as connection:
            return await self._move_in(connection, survey_id, expected, now, **values)

    @staticmethod
    async def _move_in(connection: AsyncConnection, survey_id: int, expected: str, now: datetime,
                       **values: Any) -> bool:
        result = await connection.execute(
            update(Survey).where(and_(Survey.id == survey_id, Survey.status == expected))
            .values(updated_at=now, **values))
        return bool(result.rowcount == 1)

