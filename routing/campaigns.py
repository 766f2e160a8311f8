"""A survey campaign's rules (issue 6), apart from the database: its channels and first step, which state
changes are allowed and why not, quotas given as UNIT=N, an uploaded list's bytes as text, and the results
per unit and question (each answer's count, the satisfaction rate) and their CSV.

A campaign is ready when imported; start makes it running (the dialer asks its numbers only then), pause
stops new calls and texts (those in progress finish), resume (or start) runs it again; it is finished when no
number is left to ask, or cancelled by a supervisor.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from routing import survey
from routing.survey_scripts import Script

READY, RUNNING, PAUSED, FINISHED, CANCELLED = "ready", "running", "paused", "finished", "cancelled"
STATUSES = (READY, RUNNING, PAUSED, FINISHED, CANCELLED)
STATUS_LABELS = {READY: "待启动", RUNNING: "进行中", PAUSED: "已暂停", FINISHED: "已完成", CANCELLED: "已取消"}
CHANNELS = ("phone,sms", "phone", "sms")  # tried in this order: phone first, SMS if unreachable
CHANNEL_LABELS = {"phone,sms": "先电话后短信", "phone": "仅电话", "sms": "仅短信"}
# A survey's statuses (ivr.surveys.store), as the page and the exports show them.
SURVEY_LABELS = {"due": "待联系", "calling": "通话中", "waiting_reply": "待回复", "answered": "已回答",
                 "unreachable": "联系不上", "quota_met": "已满额", "cancelled": "已取消"}
ANSWER_LABELS = {"yes": "已解决", "no": "未解决", "very_satisfied": "非常满意", "satisfied": "满意",
                 "basically_satisfied": "基本满意", "dissatisfied": "不满意", "very_dissatisfied": "非常不满意"}
QUESTION_LABELS = {"solved": "问题是否解决", "rating": "满意度", "service": "服务满意度", "efficiency": "办事效率"}
MAX_QUOTA = 1_000_000
# What each action needs the campaign to be in, and what it makes it.
MOVES: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({READY, PAUSED}), RUNNING),
    "pause": (frozenset({RUNNING}), PAUSED),
    "resume": (frozenset({PAUSED}), RUNNING),
    "cancel": (frozenset({READY, RUNNING, PAUSED}), CANCELLED),
}


class BadQuota(ValueError):
    """A quota that is not UNIT=N with N a whole number from 1; says which."""


def first_action(channels: str) -> str:
    """The first step of each number: a call when the campaign phones, else an SMS."""
    if channels not in CHANNELS:
        raise ValueError(f"unknown channels {channels!r}: expected one of {', '.join(CHANNELS)}")
    return "call" if channels.startswith("phone") else "sms"


def refusal(action: str, status: str) -> str | None:
    """Why `action` is not allowed on a campaign in `status`; None when it is."""
    allowed, target = MOVES[action]
    if status in allowed:
        return None
    if status == target:
        return f"the campaign is {status} already"
    if status in (FINISHED, CANCELLED):
        return f"the campaign is {status}: nothing is left to {action}"
    needed = " or ".join(sorted(allowed))
    return f"only a {needed} campaign can be {_past(action)}; this one is {status}"


def _past(action: str) -> str:
    return {"start": "started", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action]


def parse_quota(text: str) -> tuple[str, int]:
    """`urban=50` → ("urban", 50)."""
    unit, sep, count = text.partition("=")
    if not sep or not unit.strip():
        raise BadQuota(f"quota {text!r} is not UNIT=N (e.g. urban=50)")
    return unit.strip(), quota_count(unit.strip(), count.strip())


def quota_count(unit: str, value: object) -> int:
    """A quota's number of answers wanted: a whole number from 1 (given as a number or as digits)."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_QUOTA:
        raise BadQuota(f"the quota of {unit} must be a whole number of answers from 1 to {MAX_QUOTA}, not {value!r}")
    return value


def check_quotas(quotas: Mapping[str, object], units: Iterable[str]) -> dict[str, int]:
    """The quotas as unit → answers wanted, each unit a known one."""
    known = set(units)
    checked = {}
    for unit, value in quotas.items():
        if unit not in known:
            raise BadQuota(f"no unit {unit!r} to set a quota for: units are department codes (hotline department "
                           "list)")
        checked[unit] = quota_count(unit, value)
    return checked


def quotas_from(text: str | None) -> dict[str, int]:
    """A campaign's quotas as stored (campaigns.quotas, a JSON object): unit → answers wanted; {} for none."""
    return {str(unit): int(count) for unit, count in json.loads(text or "{}").items()}


def decode_list(data: bytes) -> str:
    """An uploaded list's text: UTF-8 (with or without a BOM), or GB 18030 as Excel saves a CSV on Chinese
    Windows. Raises ValueError when it is neither."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ValueError("the list is neither UTF-8 nor GB 18030 text: save it as CSV (UTF-8)") from None


# Results


@dataclass(frozen=True)
class QuestionResult:
    """One unit's answers to one question ("" is every unit together)."""

    unit: str
    question: str
    counts: Mapping[str, int]  # answer → how many gave it, every choice of the question (0 when none)
    answers: int
    satisfaction: float | None  # the top three levels over the answers; None when nobody answered or not a rating

    def as_json(self) -> dict[str, object]:
        return {"unit": self.unit, "question": self.question, "counts": dict(self.counts), "answers": self.answers,
                "satisfaction": self.satisfaction}


def is_rating(choices: Iterable[str]) -> bool:
    return set(choices) <= set(survey.RATINGS)


def question_results(script: Script, units: Sequence[str],
                     counts: Mapping[tuple[str, str, str], int]) -> list[QuestionResult]:
    """Per unit (in the order given) and question (the script's), then every unit together: the counts of each
    answer from (unit, question, answer) → count, and the satisfaction rate of rating questions."""
    every: dict[tuple[str, str, str], int] = {}
    for (_unit, question_key, answer), count in counts.items():
        every[("", question_key, answer)] = every.get(("", question_key, answer), 0) + count
    results = []
    for unit in (*units, ""):
        for question in script.questions:
            choices = list(dict.fromkeys(question.choices.values()))
            tally = {answer: (every if not unit else counts).get((unit, question.key, answer), 0)
                     for answer in choices}
            answered = sum(tally.values())
            rate = survey.satisfaction_rate(tally) if is_rating(choices) else None
            results.append(QuestionResult(unit, question.key, tally, answered, rate))
    return results


def percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def _csv(rows: Iterable[Sequence[object]]) -> str:
    """CSV with a BOM, so that Excel opens the Chinese right."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue()


def answer_columns(script: Script) -> list[str]:
    """Every answer any of the script's questions can have, in the scripts' order."""
    return list(dict.fromkeys(answer for question in script.questions for answer in question.choices.values()))


def results_csv(script: Script, results: Sequence[QuestionResult], unit_names: Mapping[str, str]) -> str:
    """One row per unit and question (then 全部 for every unit): the count of each answer and the
    satisfaction rate."""
    columns = answer_columns(script)
    header: list[object] = ["单位代码", "单位", "问题", "回答数", *(ANSWER_LABELS.get(a, a) for a in columns), "满意率"]
    rows: list[list[object]] = [header]
    for result in results:
        rows.append([result.unit or "全部", unit_names.get(result.unit, result.unit) if result.unit else "全部",
                     QUESTION_LABELS.get(result.question, result.question), result.answers,
                     *(result.counts.get(a, "") for a in columns), percent(result.satisfaction)])
    return _csv(rows)


@dataclass(frozen=True)
class NumberAnswers:
    """One number of the list, as the answers export shows it (the number masked)."""

    line: int | None
    unit: str | None
    masked_number: str
    status: str
    calls: int
    texted: bool
    answered_via: str | None
    answered_at: str  # local time, or ""
    answers: Mapping[str, str]


def answers_csv(script: Script, numbers: Iterable[NumberAnswers]) -> str:
    """One row per number of the list, by its line: what happened to it and its answer to each question."""
    header: list[object] = ["行号", "单位代码", "号码", "状态", "呼叫次数", "已发短信", "回答方式", "回答时间",
              *(QUESTION_LABELS.get(q.key, q.key) for q in script.questions)]
    rows: list[list[object]] = [header]
    for number in numbers:
        rows.append([number.line or "", number.unit or "", number.masked_number,
                     SURVEY_LABELS.get(number.status, number.status), number.calls, "是" if number.texted else "否",
                     {"phone": "电话", "sms": "短信"}.get(number.answered_via or "", number.answered_via or ""),
                     number.answered_at,
                     *(ANSWER_LABELS.get(number.answers.get(q.key, ""), number.answers.get(q.key, ""))
                       for q in script.questions)])
    return _csv(rows)
