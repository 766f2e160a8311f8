"""A survey campaign's number list (issue 6): a CSV a supervisor uploads, one citizen a row (number, unit, and
optionally a name). Each bad row is reported with its line and what is wrong, and the rest is imported; a
number twice in the list is called once."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass, field

from routing.numbers import BadNumber, normalise

HEADER_WORDS = {"number", "phone", "电话", "号码", "手机", "unit", "单位", "name", "姓名"}


@dataclass(frozen=True)
class Row:
    line: int
    number: str  # normalised
    unit: str
    name: str = ""


@dataclass(frozen=True)
class Problem:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


@dataclass
class Parsed:
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def parse(text: str, units: Collection[str]) -> Parsed:
    """The rows of a campaign list; `units` are the department codes the campaign may survey."""
    parsed, seen = Parsed(), dict[str, int]()
    for line, cells in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells) or (line == 1 and HEADER_WORDS & {cell.lower() for cell in cells}):
            continue
        if len(cells) < 2 or not cells[1]:
            parsed.problems.append(Problem(line, "expected at least two columns: number, unit"))
            continue
        try:
            number = normalise(cells[0])
        except BadNumber as exc:
            parsed.problems.append(Problem(line, str(exc)))
            continue
        if cells[1] not in units:
            parsed.problems.append(Problem(line, f"no unit {cells[1]!r} in this campaign"))
            continue
        if number in seen:
            parsed.problems.append(Problem(line, f"{number} is already on line {seen[number]}: called once"))
            continue
        seen[number] = line
        parsed.rows.append(Row(line, number, cells[1], cells[2] if len(cells) > 2 else ""))
    return parsed
