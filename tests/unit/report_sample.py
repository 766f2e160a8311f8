"""Hand-built reports for the export tests: a month of a city's hotline, and a period with nothing in it."""

from __future__ import annotations

from typing import Any

from ivr.reports.model import (
    DayRow,
    DepartmentRow,
    OrderFigures,
    Period,
    Report,
    TermRow,
    TopicRow,
    TypeRow,
)

OCTOBER = Period("monthly", "2026-10-01T00:00:00+08:00", "2026-11-01T00:00:00+08:00", "2026-10",
                 "12345热线月报（2026年10月）")
SEPTEMBER = Period("monthly", "2026-09-01T00:00:00+08:00", "2026-10-01T00:00:00+08:00", "2026-09",
                   "12345热线月报（2026年9月）")
GENERATED_AT = "2026-11-01T06:00:00+08:00"

DEPARTMENTS = ("市住建局", "市城管局", "市交通运输局", "市生态环境局", "市市场监管局", "市人社局", "市教育局",
               "市卫健委", "市公安局", "市水务局", "市民政局", "市自然资源局", "市医保局", "市商务局", "市文旅局",
               "市农业农村局", "市应急管理局", "市供热集团", "市燃气集团", "市供电公司")
DISTRICTS = ("南关区", "宽城区", "朝阳区", "二道区", "绿园区", "双阳区", "九台区", "净月区", "高新区", "经开区")

CALLS: dict[str, Any] = {
    "offered": 10500, "answered": 9999, "answer_rate": 0.9523, "answered_within_service_level": 9100,
    "service_level_rate": 0.8667, "abandoned": 420, "abandoned_short": 150, "abandoned_long": 270,
    "timed_out": 60, "callback_requested": 15, "voicemail": 6, "hung_up_before_queue": 0,
    "average_wait_seconds": 12.34, "average_handle_seconds": 245.6,
    "ratings": {"satisfied": 7000, "basically_satisfied": 1500, "unsatisfied": 300},
}
PREVIOUS_CALLS: dict[str, Any] = {
    **CALLS, "offered": 9800, "answered": 9200, "answer_rate": 0.9388, "service_level_rate": 0.85,
    "average_wait_seconds": 14.0, "ratings": {"satisfied": 6500, "unsatisfied": 400},
}

ORDERS = OrderFigures(
    received=5200, merged=200, completed=4800, completion_rate=0.96, on_time=4700, on_time_rate=0.9792,
    visited=3000, satisfied=2850, satisfaction_rate=0.95, first_call_eligible=2100, first_call_resolved=1800,
    first_call_resolution_rate=0.8571, dispatched=3100, returned=93, return_rate=0.03, reopened=40,
    repeat_requests=310, repeat_rate=0.0596, overdue=25,
)
PREVIOUS_ORDERS = OrderFigures(
    received=4900, merged=180, completed=4500, completion_rate=0.9534, on_time=4380, on_time_rate=0.9733,
    visited=2800, satisfied=2630, satisfaction_rate=0.9393, first_call_eligible=2000, first_call_resolved=1650,
    first_call_resolution_rate=0.825, dispatched=2950, returned=100, return_rate=0.0339, reopened=45,
    repeat_requests=290, repeat_rate=0.0592, overdue=31,
)

TYPES = (("consultation", "咨询", 2100, 2000), ("help", "求助", 900, 850), ("complaint", "投诉", 1500, 1300),
         ("report", "举报", 300, 320), ("suggestion", "建议", 350, 380), ("praise", "表扬", 50, 50))

EMPTY_ORDERS = OrderFigures(0, 0, 0, None, 0, None, 0, 0, None, 0, 0, None, 0, 0, None, 0, 0, None, 0)
EMPTY_CALLS: dict[str, Any] = {
    **{key: 0 for key in CALLS if key != "ratings"}, "answer_rate": None, "service_level_rate": None,
    "average_wait_seconds": None, "average_handle_seconds": None, "ratings": {},
}


def department_names(count: int) -> list[str]:
    """`count` distinct names: the city's bureaus, then each district's offices."""
    names = list(DEPARTMENTS)
    for office in ("政府", "城管局", "住建局"):
        names += [f"{district}{office}" for district in DISTRICTS]
    return names[:count]


def sample_report(departments: int = 8, days: int = 31) -> Report:
    """October 2026: `departments` ranked departments (at most 50), `days` days of trend."""
    return Report(
        period=OCTOBER, previous=SEPTEMBER, generated_at=GENERATED_AT, calls=CALLS, previous_calls=PREVIOUS_CALLS,
        orders=ORDERS, previous_orders=PREVIOUS_ORDERS,
        by_type=[TypeRow(code, name, received, int(received * 0.92), previous)
                 for code, name, received, previous in TYPES],
        by_topic=[
            TopicRow("0301", "物业管理", 620, 310, True),
            TopicRow("0502", "供暖", 410, 380, False),
            TopicRow("0107", "噪声扰民", 260, 240, False),
            TopicRow("", "未分类", 35, 40, False),
        ],
        departments=[_department(rank, name) for rank, name in enumerate(department_names(departments), start=1)],
        hot_terms=[TermRow("物业费", 180, 60, True), TermRow("停车", 150, 140, False),
                   TermRow("暖气不热", 120, 20, True), TermRow("噪音", 90, 95, False)],
        days=[DayRow(f"2026-10-{day:02d}", 330 + day, 315 + day, 160 + day, 150 + day) for day in range(1, days + 1)],
    )


def _department(rank: int, name: str) -> DepartmentRow:
    dispatched = 300 - 5 * rank
    return DepartmentRow(
        code=f"D{rank:03d}", name=name, dispatched=dispatched, replied=dispatched - 4, replied_on_time=dispatched - 10,
        on_time_rate=round((dispatched - 10) / (dispatched - 4), 4), returned=rank % 7, return_rate=0.012,
        overdue=rank % 3, visited=100, satisfied=96 - rank % 10, satisfaction_rate=(96 - rank % 10) / 100,
        score=round(98.5 - 0.7 * rank, 1), rank=rank,
    )


def empty_report() -> Report:
    """A period in which nothing happened: no calls (every rate None), no orders, no rows in any section."""
    return Report(period=OCTOBER, previous=SEPTEMBER, generated_at=GENERATED_AT, calls=EMPTY_CALLS,
                  previous_calls=EMPTY_CALLS, orders=EMPTY_ORDERS, previous_orders=EMPTY_ORDERS)
