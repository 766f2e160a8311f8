"""Satisfaction rates from return visits (issue 6): per order, per department (the lead) and per agent (who took
the order). An answer whose appeal the centre upheld does not count against the department or the agent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import Department, Survey, WorkOrder
from routing.survey import SATISFIED, satisfaction_rate


@dataclass(frozen=True)
class Rate:
    key: str
    name: str
    answered: int
    satisfied: int

    @property
    def rate(self) -> float | None:
        return self.satisfied / self.answered if self.answered else None

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "answered": self.answered, "satisfied": self.satisfied,
                "rate": None if self.rate is None else round(self.rate, 4)}


def counted(since: datetime, until: datetime) -> list[Any]:
    return [Survey.order_id.is_not(None), Survey.status == "answered", Survey.rating.is_not(None),
            Survey.appeal != "upheld", Survey.answered_at >= since, Survey.answered_at < until]


async def rates(engine: AsyncEngine, since: datetime, until: datetime,
                department_id: int | None = None) -> dict[str, Any]:
    """The period's rates: overall, by department and by agent (one department's only, when it asks)."""
    satisfied = func.sum(case((Survey.rating.in_(SATISFIED), 1), else_=0))
    where = counted(since, until) + ([WorkOrder.lead_department_id == department_id] if department_id else [])
    by_department = (select(Department.code, Department.name, func.count(), satisfied)
                     .select_from(Survey).join(WorkOrder, WorkOrder.id == Survey.order_id)
                     .join(Department, Department.id == WorkOrder.lead_department_id)
                     .where(*where).group_by(Department.code, Department.name).order_by(Department.code))
    by_agent = (select(WorkOrder.agent, func.count(), satisfied).select_from(Survey)
                .join(WorkOrder, WorkOrder.id == Survey.order_id)
                .where(*where, WorkOrder.agent.is_not(None)).group_by(WorkOrder.agent).order_by(WorkOrder.agent))
    overall = select(func.count(), satisfied).select_from(Survey).join(WorkOrder, WorkOrder.id == Survey.order_id) \
        .where(*where)
    async with engine.connect() as connection:
        departments = [Rate(code, name, count, int(happy or 0))
                       for code, name, count, happy in (await connection.execute(by_department)).all()]
        agents = [] if department_id else [Rate(agent, agent, count, int(happy or 0))
                                           for agent, count, happy in (await connection.execute(by_agent)).all()]
        count, happy = (await connection.execute(overall)).one()
    return {"overall": Rate("all", "全部", count, int(happy or 0)).as_json(),
            "departments": [rate.as_json() for rate in departments], "agents": [rate.as_json() for rate in agents]}


def order_rate(surveys: list[Survey]) -> float | None:
    """An order's rate: its citizens' answers (all rounds' latest), upheld appeals left out."""
    return satisfaction_rate(Counter(survey.rating for survey in surveys
                                     if survey.status == "answered" and survey.rating and survey.appeal != "upheld"))
