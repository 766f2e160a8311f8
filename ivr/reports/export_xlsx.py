"""A report as an XLSX workbook: one sheet per part, numbers stored as numbers, native Excel charts."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ivr.reports.labels import (
    DAY_COLUMNS,
    DEPARTMENT_COLUMNS,
    FIGURE_COLUMNS,
    MISSING,
    TERM_COLUMNS,
    TOPIC_COLUMNS,
    TYPE_COLUMNS,
    Kind,
    Label,
    Value,
    display_width,
    figure_rows,
    format_value,
    generated_utc,
    heading_lines,
    surged,
)
from ivr.reports.model import Report

NUMBER_FORMATS: dict[Kind, str] = {"count": "0", "rate": "0.0%", "seconds": "0.0", "score": "0.0",
                                   "day": "yyyy-mm-dd"}
CHANGE_FORMATS: dict[Kind, str] = {"count": "+0;-0;0", "rate": "+0.0%;-0.0%;0.0%", "seconds": "+0.0;-0.0;0.0",
                                   "score": "+0.0;-0.0;0.0"}
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
SURGE_FILL = PatternFill("solid", fgColor="F8CBAD")
RIGHT = Alignment(horizontal="right")
FIGURES_HEADER_ROW = 6  # under the title and the three heading lines of 概览
MAX_WIDTH = 60


def to_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook: sheets 概览, 部门考核, 类型与主题, 热点词, 每日趋势."""
    workbook = Workbook()
    _overview(workbook.active, report)
    _departments(workbook.create_sheet("部门考核"), report)
    _types_and_topics(workbook.create_sheet("类型与主题"), report)
    _write_table(workbook.create_sheet("热点词"), TERM_COLUMNS, report.hot_terms)
    _days(workbook.create_sheet("每日趋势"), report)
    for sheet in workbook.worksheets:
        _fit_columns(sheet, FIGURES_HEADER_ROW if sheet.title == "概览" else 1)
    workbook.properties.title = report.period.title
    # docProps/core.xml takes naive UTC times
    workbook.properties.created = workbook.properties.modified = generated_utc(report).replace(tzinfo=None)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _overview(sheet: Worksheet, report: Report) -> None:
    sheet.title = "概览"
    sheet["A1"] = report.period.title
    sheet["A1"].font = Font(bold=True, size=14)
    for row, (name, text) in enumerate(heading_lines(report), start=2):
        sheet.cell(row, 1, f"{name}：{text}")
    for column, name in enumerate(FIGURE_COLUMNS, start=1):
        _header(sheet.cell(FIGURES_HEADER_ROW, column, name))
    for row, figure in enumerate(figure_rows(report), start=FIGURES_HEADER_ROW + 1):
        sheet.cell(row, 1, figure.section)
        sheet.cell(row, 2, figure.figure.name)
        kind = figure.figure.kind
        _put(sheet.cell(row, 3), figure.current, kind)
        _put(sheet.cell(row, 4), figure.previous, kind)
        _put(sheet.cell(row, 5), figure.change, kind, CHANGE_FORMATS)
    sheet.freeze_panes = sheet.cell(FIGURES_HEADER_ROW + 1, 1)


def _departments(sheet: Worksheet, report: Report) -> None:
    _write_table(sheet, DEPARTMENT_COLUMNS, report.departments)
    sheet.freeze_panes = "D2"  # rank, code and name stay in view beside every column
    count = len(report.departments)
    if not count:
        return
    chart = BarChart()
    _style_chart(chart, "部门考核得分", "得分")
    chart.type = "bar"
    chart.x_axis.scaling.orientation = "maxMin"  # rank 1 at the top
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 100
    chart.legend = None
    chart.height = max(7.5, 0.5 * count)
    _add_series(chart, sheet, _column_of(DEPARTMENT_COLUMNS, "name"), [_column_of(DEPARTMENT_COLUMNS, "score")],
                count)
    sheet.add_chart(chart, f"{get_column_letter(len(DEPARTMENT_COLUMNS) + 2)}2")


def _types_and_topics(sheet: Worksheet, report: Report) -> None:
    _write_table(sheet, TYPE_COLUMNS, report.by_type)
    topics_column = len(TYPE_COLUMNS) + 2  # one empty column between the two tables
    _write_table(sheet, TOPIC_COLUMNS, report.by_topic, column=topics_column)
    count = len(report.by_type)
    if count:
        chart = BarChart()
        _style_chart(chart, "各类型工单受理量", "件")
        _add_series(chart, sheet, 1, [_column_of(TYPE_COLUMNS, "received"), _column_of(TYPE_COLUMNS, "previous")],
                    count)
        sheet.add_chart(chart, f"A{count + 3}")


def _days(sheet: Worksheet, report: Report) -> None:
    _write_table(sheet, DAY_COLUMNS, report.days)
    count = len(report.days)
    if not count:
        return
    anchor_column = get_column_letter(len(DAY_COLUMNS) + 2)
    for anchor_row, (title, keys) in enumerate(
        (("每日话务量", ("offered", "answered")), ("每日工单量", ("received", "completed")))
    ):
        chart = LineChart()
        _style_chart(chart, title, "数量")
        chart.x_axis.number_format = "mm-dd"
        _add_series(chart, sheet, 1, [_column_of(DAY_COLUMNS, key) for key in keys], count)
        sheet.add_chart(chart, f"{anchor_column}{2 + 16 * anchor_row}")


def _write_table(sheet: Worksheet, columns: Sequence[Label], rows: Sequence[Any], column: int = 1) -> None:
    """A header row at the top (frozen), then one row per item; an item with a surge gets a red background."""
    sheet.freeze_panes = "A2"
    for offset, label in enumerate(columns):
        _header(sheet.cell(1, column + offset, label.name))
    for row, item in enumerate(rows, start=2):
        surge = surged(item)
        for offset, label in enumerate(columns):
            cell = sheet.cell(row, column + offset)
            _put(cell, getattr(item, label.key), label.kind)
            if surge:
                cell.fill = SURGE_FILL


def _put(cell: Cell, value: Value, kind: Kind, formats: dict[Kind, str] = NUMBER_FORMATS) -> None:
    if value is None:
        cell.value = MISSING
        cell.alignment = RIGHT
    elif kind == "flag":
        cell.value = format_value(value, kind)
    elif kind == "day" and isinstance(value, str):
        cell.value = date.fromisoformat(value)
        cell.number_format = formats[kind]
    else:
        cell.value = value
        cell.number_format = formats.get(kind, "General")


def _header(cell: Cell) -> None:
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL


def _column_of(columns: Sequence[Label], key: str) -> int:
    return next(index for index, label in enumerate(columns, start=1) if label.key == key)


def _style_chart(chart: BarChart | LineChart, title: str, unit: str) -> None:
    chart.title = title
    chart.y_axis.title = unit
    # openpyxl ≥ 3.1 marks axes deleted unless told otherwise: Excel would draw the chart without them.
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.width = 16


def _add_series(chart: BarChart | LineChart, sheet: Worksheet, category_column: int, value_columns: Sequence[int],
                count: int) -> None:
    """One series per value column (its header names it) over `count` rows, labelled by `category_column`."""
    for column in value_columns:
        chart.add_data(Reference(sheet, min_col=column, min_row=1, max_row=count + 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=category_column, min_row=2, max_row=count + 1))


def _fit_columns(sheet: Worksheet, from_row: int) -> None:
    """Widths from the widest value at or below `from_row` (a title above may overflow into empty cells)."""
    widths: dict[int, int] = {}
    for row in sheet.iter_rows(min_row=from_row):
        for cell in row:
            if cell.value is not None:
                # A float shows at most a few decimals whatever its repr (0.01350000000000007).
                text = f"{cell.value:.2f}" if isinstance(cell.value, float) else str(cell.value)
                widths[cell.column] = max(widths.get(cell.column, 0), display_width(text))
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, 8), MAX_WIDTH)
