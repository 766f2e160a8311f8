"""The Chinese names of a report's figures and columns, and how a value reads: one place for CSV, XLSX, PDF and
the web page.

A value keeps its model form (a rate is a fraction from 0 to 1, None when its denominator is 0) until it is
shown; `format_value` and `format_change` turn it into the text a supervisor reads.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ivr.reports.model import Period, Report

# How a value is stored and shown. count: a whole number; rate: a fraction shown as a percentage;
# seconds and score: one decimal; text and day (an ISO date) as they are; flag: 是 or 否.
Kind = Literal["count", "rate", "seconds", "score", "text", "day", "flag"]
Value = str | float | None  # int and bool are accepted where float is

MISSING = "—"  # a figure with nothing to measure (a rate over 0 calls), never shown as 0

UNITS: dict[Kind, str] = {"count": "数量", "rate": "比例（0–1）", "seconds": "秒", "score": "分"}


@dataclass(frozen=True)
class Label:
    """A figure of the key-figures table or a column of a section table: its field, its name, its kind."""

    key: str
    name: str
    kind: Kind = "count"


TYPE_NAMES = {  # routing.lifecycle.TYPES
    "consultation": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
    "praise": "表扬",
}

RATING_NAMES = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}  # routing.rating

# routing.kpi.CallKpis without the list of abandoned calls; a post-call rating is "ratings.<rating>".
CALL_FIGURES = (
    Label("offered", "呼入量"),
    Label("answered", "接通量"),
    Label("answer_rate", "接通率", "rate"),
    Label("answered_within_service_level", "15秒内接通量"),
    Label("service_level_rate", "15秒接通率", "rate"),
    Label("abandoned", "放弃量"),
    Label("abandoned_short", "短时放弃量"),
    Label("abandoned_long", "长时放弃量"),
    Label("timed_out", "排队超时量"),
    Label("callback_requested", "预约回呼量"),
    Label("voicemail", "留言量"),
    Label("hung_up_before_queue", "进队前挂机量"),
    Label("average_wait_seconds", "平均等待（秒）", "seconds"),
    Label("average_handle_seconds", "平均处理时长（秒）", "seconds"),
    *(Label(f"ratings.{rating}", f"通话评价：{name}") for rating, name in RATING_NAMES.items()),
)

ORDER_FIGURES = (  # model.OrderFigures
    Label("received", "受理量"),
    Label("merged", "并单量"),
    Label("completed", "办结量"),
    Label("completion_rate", "办结率", "rate"),
    Label("on_time", "按时办结量"),
    Label("on_time_rate", "按时办结率", "rate"),
    Label("visited", "回访量"),
    Label("satisfied", "满意量"),
    Label("satisfaction_rate", "满意率", "rate"),
    Label("first_call_eligible", "电话咨询求助量"),
    Label("first_call_resolved", "首呼解决量"),
    Label("first_call_resolution_rate", "首呼解决率", "rate"),
    Label("dispatched", "派单量"),
    Label("returned", "退单量"),
    Label("return_rate", "退单率", "rate"),
    Label("reopened", "重办量"),
    Label("repeat_requests", "重复诉求"),
    Label("repeat_rate", "重复诉求率", "rate"),
    Label("overdue", "超期工单"),
)

TYPE_COLUMNS = (  # model.TypeRow
    Label("name", "类型", "text"),
    Label("received", "受理量"),
    Label("completed", "办结量"),
    Label("previous", "上期受理量"),
)

TOPIC_COLUMNS = (  # model.TopicRow
    Label("code", "主题代码", "text"),
    Label("topic", "主题", "text"),
    Label("received", "受理量"),
    Label("previous", "上期受理量"),
    Label("surge", "激增", "flag"),
)

DEPARTMENT_COLUMNS = (  # model.DepartmentRow
    Label("rank", "排名"),
    Label("code", "部门代码", "text"),
    Label("name", "部门", "text"),
    Label("dispatched", "派单量"),
    Label("replied", "答复量"),
    Label("replied_on_time", "按时答复量"),
    Label("on_time_rate", "按时答复率", "rate"),
    Label("returned", "退单量"),
    Label("return_rate", "退单率", "rate"),
    Label("overdue", "超期"),
    Label("visited", "回访量"),
    Label("satisfied", "满意量"),
    Label("satisfaction_rate", "满意率", "rate"),
    Label("score", "考核得分", "score"),
)

TERM_COLUMNS = (  # model.TermRow
    Label("term", "热点词", "text"),
    Label("count", "出现次数"),
    Label("previous", "上期次数"),
    Label("surge", "激增", "flag"),
)

DAY_COLUMNS = (  # model.DayRow
    Label("day", "日期", "day"),
    Label("offered", "呼入量"),
    Label("answered", "接通量"),
    Label("received", "受理量"),
    Label("completed", "办结量"),
)

FIGURES_TITLE = "主要指标"
FIGURE_COLUMNS = ("分类", "指标", "本期", "上期", "变化")
CALLS_SECTION, ORDERS_SECTION = "话务", "工单"


@dataclass(frozen=True)
class FigureRow:
    """One line of the key-figures table: a figure in this period and in the previous one."""

    section: str  # CALLS_SECTION or ORDERS_SECTION
    figure: Label
    current: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        """This period minus the previous one; for a rate, in percentage points (as a fraction)."""
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous


@dataclass(frozen=True)
class Section:
    """A table of the report: its title, its columns and its rows (model dataclasses)."""

    title: str
    columns: tuple[Label, ...]
    rows: Sequence[Any]


def figure_rows(report: Report) -> list[FigureRow]:
    """The call figures, then the order figures, each with the previous period's value."""
    calls, previous_calls = _call_values(report.calls), _call_values(report.previous_calls)
    orders, previous_orders = asdict(report.orders), asdict(report.previous_orders)
    return [
        *(FigureRow(CALLS_SECTION, figure, calls.get(figure.key), previous_calls.get(figure.key))
          for figure in CALL_FIGURES),
        *(FigureRow(ORDERS_SECTION, figure, orders[figure.key], previous_orders[figure.key])
          for figure in ORDER_FIGURES),
    ]


def _call_values(calls: Mapping[str, Any]) -> dict[str, Any]:
    # A rating nobody gave is absent from the counts, yet it is a count of 0, not a missing figure.
    ratings = calls.get("ratings") or {}
    return {**calls, **{f"ratings.{rating}": ratings.get(rating, 0) for rating in RATING_NAMES}}


def sections(report: Report) -> list[Section]:
    """The report's tables after the key figures, in the order every format shows them."""
    return [
        Section("按类型", TYPE_COLUMNS, report.by_type),
        Section("按主题", TOPIC_COLUMNS, report.by_topic),
        Section("部门考核", DEPARTMENT_COLUMNS, report.departments),
        Section("热点词", TERM_COLUMNS, report.hot_terms),
        Section("每日趋势", DAY_COLUMNS, report.days),
    ]


def cells(row: Any, columns: Sequence[Label]) -> list[Value]:
    """The row's values in the columns' order."""
    return [getattr(row, column.key) for column in columns]


def surged(row: Any) -> bool:
    """Whether a row is to stand out: a topic or hot term that surged against the previous period."""
    return bool(getattr(row, "surge", False))


def format_value(value: Value, kind: Kind) -> str:
    """The value as a supervisor reads it: 95.2%, 12.3 (seconds, score), 是/否, — for a missing figure."""
    if value is None:
        return MISSING
    if kind == "flag":
        return "是" if value else "否"
    if isinstance(value, str):
        return value
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind in ("seconds", "score"):
        return f"{value:.1f}"
    return f"{value:.0f}"


def format_change(value: float | None, kind: Kind) -> str:
    """A change with its sign: +12, -0.5 (seconds), +1.2个百分点 for a rate."""
    if value is None:
        return MISSING
    if kind == "rate":
        return f"{value * 100:+.1f}个百分点"
    if kind in ("seconds", "score"):
        return f"{value:+.1f}"
    return f"{value:+.0f}"


def heading_lines(report: Report) -> list[tuple[str, str]]:
    """What the report covers, under its title: (name, text) pairs."""
    return [
        ("统计周期", period_text(report.period)),
        ("对比周期", period_text(report.previous)),
        ("生成时间", _minute(report.generated_at)),
    ]


def generated_utc(report: Report) -> datetime:
    """When the report was made, in UTC: the files' creation time, so that the same report gives the same file."""
    return datetime.fromisoformat(report.generated_at).astimezone(UTC)


def period_text(period: Period) -> str:
    """2026-10（2026-10-01 00:00 至 2026-11-01 00:00）: the label, then the half-open range in local time."""
    return f"{period.label}（{_minute(period.start)} 至 {_minute(period.end)}）"


def _minute(moment: str) -> str:
    return datetime.fromisoformat(moment).strftime("%Y-%m-%d %H:%M")


def display_width(text: str) -> int:
    """Width in Latin character cells: a Chinese character takes two (column widths, table layout)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
