"""A report as data: what the web page shows, the CLI prints and the CSV, XLSX and PDF files hold.

Figures are plain numbers; a rate is a fraction from 0 to 1 (None when its denominator is 0). Every
section is JSON-ready through `Report.as_json()`; `ivr/reports/labels.py` names each figure in Chinese.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("daily", "weekly", "monthly", "special")


@dataclass(frozen=True)
class Period:
    kind: str  # one of KINDS
    start: str  # ISO 8601 with the centre's offset, inclusive
    end: str  # exclusive
    label: str  # 2026-10-05, 2026-W41, 2026-10, or 2026-10-01 – 2026-10-07 for a special period
    title: str  # 12345热线月报（2026年10月）


@dataclass(frozen=True)
class OrderFigures:
    received: int  # orders taken in the period (drafts and discarded ones not counted; merged ones are)
    merged: int  # of those, folded into another order (并单): repeat requests that need no work of their own
    completed: int  # of the received and not merged, closed (办结) by the period's end
    completion_rate: float | None  # completed / (received − merged)
    on_time: int  # of the completed, closed by their deadline (closed at intake: on time)
    on_time_rate: float | None  # on_time / completed
    visited: int  # return-visit answers in the period (an upheld appeal removes one)
    satisfied: int  # of those, satisfied or basically satisfied
    satisfaction_rate: float | None
    first_call_eligible: int  # consultations and help requests taken by phone
    first_call_resolved: int  # of those, closed at intake (answered on the first call)
    first_call_resolution_rate: float | None
    dispatched: int  # received orders sent to a department
    returned: int  # of those, given back (退单) at least once
    return_rate: float | None
    reopened: int  # orders sent back for re-handling (重办) in the period after a dissatisfied visit
    repeat_requests: int  # received orders repeating an earlier one: merged, or same number and topic within N days
    repeat_rate: float | None  # repeat_requests / received
    overdue: int  # orders whose deadline fell in the period and that were not closed by it (超期)


@dataclass(frozen=True)
class TypeRow:
    type: str  # consultation, help, complaint, report, suggestion, praise
    name: str  # 咨询 …
    received: int
    completed: int
    previous: int  # received in the previous period of the same length


@dataclass(frozen=True)
class TopicRow:
    code: str  # the catalogue's code; "" for orders without a topic
    topic: str
    received: int
    previous: int
    surge: bool


@dataclass(frozen=True)
class DepartmentRow:
    code: str
    name: str
    dispatched: int  # orders it led that were dispatched in the period
    replied: int  # of those, replied
    replied_on_time: int
    on_time_rate: float | None  # replied_on_time / replied
    returned: int  # of those, given back at least once
    return_rate: float | None
    overdue: int  # of those, at the period's end still open past the deadline
    visited: int
    satisfied: int
    satisfaction_rate: float | None
    score: float  # the assessment (0–100; routing.assessment)
    rank: int


@dataclass(frozen=True)
class TermRow:
    term: str
    count: int
    previous: int
    surge: bool


@dataclass(frozen=True)
class DayRow:
    day: str  # local date
    offered: int
    answered: int
    received: int
    completed: int


@dataclass(frozen=True)
class Report:
    period: Period
    previous: Period  # the period of the same length just before
    generated_at: str
    calls: dict[str, Any]  # routing.kpi.CallKpis as JSON, without the list of abandoned calls
    previous_calls: dict[str, Any]
    orders: OrderFigures
    previous_orders: OrderFigures
    by_type: list[TypeRow] = field(default_factory=list)
    by_topic: list[TopicRow] = field(default_factory=list)
    departments: list[DepartmentRow] = field(default_factory=list)
    hot_terms: list[TermRow] = field(default_factory=list)
    days: list[DayRow] = field(default_factory=list)  # one row per local day: the trend charts

    def as_json(self) -> dict[str, Any]:
        return asdict(self)
