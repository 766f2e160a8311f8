"""Report exports read back: CSV with the csv module, XLSX with openpyxl, PDF with pdftotext."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from ivr.reports import export_pdf
from ivr.reports.export import ReportFontMissing, to_csv, to_pdf, to_xlsx
from ivr.reports.labels import (
    CALL_FIGURES,
    DEPARTMENT_COLUMNS,
    ORDER_FIGURES,
    RATING_NAMES,
    TYPE_NAMES,
    format_change,
    format_value,
)
from ivr.reports.model import DepartmentRow, OrderFigures
from routing.kpi import CallKpis
from routing.lifecycle import TYPES
from routing.rating import RATING_KEYS
from tests.unit.report_sample import department_names, empty_report, sample_report


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    # stderr is not checked: poppler warns "Mismatch between font type and embedded font file" because
    # matplotlib embeds the CFF outlines of Noto Sans CJK as a TrueType CID font (see docs/reports-export.md).
    result = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return result.stdout


def sheet_row(sheet: Worksheet, column: int, value: str) -> int:
    """The row whose cell in `column` holds `value`."""
    row: int = next(cell.row for (cell,) in sheet.iter_rows(min_col=column, max_col=column) if cell.value == value)
    return row


def test_labels_name_every_figure_of_the_model() -> None:
    order_keys = {figure.key for figure in ORDER_FIGURES}
    assert order_keys == {field.name for field in dataclasses.fields(OrderFigures)}
    call_keys = {field.name for field in dataclasses.fields(CallKpis)} - {"abandoned_calls", "ratings"}
    assert call_keys | {f"ratings.{rating}" for rating in RATING_NAMES} == {figure.key for figure in CALL_FIGURES}
    assert set(RATING_NAMES) == set(RATING_KEYS.values())
    assert {column.key for column in DEPARTMENT_COLUMNS} == {field.name for field in dataclasses.fields(DepartmentRow)}
    assert tuple(TYPE_NAMES) == TYPES


def test_values_read_as_a_supervisor_expects() -> None:
    assert format_value(0.9523, "rate") == "95.2%"
    assert format_value(None, "rate") == "—"
    assert format_value(12.34, "seconds") == "12.3"
    assert format_value(10500, "count") == "10500"
    assert format_value(True, "flag") == "是"
    assert format_change(0.0135, "rate") == "+1.4个百分点"
    assert format_change(-7, "count") == "-7"


def test_csv_holds_every_section_with_machine_readable_numbers() -> None:
    rows = csv_rows(to_csv(sample_report()))
    assert rows[0] == ["12345热线月报（2026年10月）"]
    answer_rate = next(row for row in rows if row[2:3] == ["answer_rate"])
    assert answer_rate == ["话务", "接通率", "answer_rate", "比例（0–1）", "0.9523", "0.9388", "0.0135"]
    assert next(row for row in rows if row[2:3] == ["received"])[4:] == ["5200", "4900", "300"]
    header = rows[rows.index(["部门考核"]) + 1]
    assert header[:3] == ["排名", "部门代码", "部门"] and "按时答复率（0–1）" in header
    department = next(row for row in rows if "市住建局" in row)
    assert (department[0], department[header.index("考核得分")]) == ("1", "97.8")
    assert ["0301", "物业管理", "620", "310", "是"] in rows, "a surging topic"
    for title in ("主要指标", "按类型", "按主题", "热点词", "每日趋势"):
        assert [title] in rows


def test_xlsx_stores_numbers_with_formats_and_has_charts() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(to_xlsx(sample_report())))
    assert workbook.sheetnames == ["概览", "部门考核", "类型与主题", "热点词", "每日趋势"]
    overview = workbook["概览"]
    answer_rate = overview.cell(sheet_row(overview, 2, "接通率"), 3)
    assert (answer_rate.value, answer_rate.number_format) == (0.9523, "0.0%")
    assert overview.cell(sheet_row(overview, 2, "受理量"), 4).value == 4900, "the previous period beside it"
    assert overview.freeze_panes == "A7"
    departments = workbook["部门考核"]
    score = departments.cell(sheet_row(departments, 3, "市住建局"), len(DEPARTMENT_COLUMNS))
    assert (departments.cell(1, len(DEPARTMENT_COLUMNS)).value, score.value) == ("考核得分", 97.8)
    assert departments.freeze_panes == "D2"
    for name in ("部门考核", "类型与主题", "每日趋势"):
        assert workbook[name]._charts, f"{name} has its chart"
    topics = workbook["类型与主题"]
    surge = topics.cell(sheet_row(topics, 7, "物业管理"), 7)
    assert surge.fill.fgColor.rgb.endswith("F8CBAD"), "surging topics stand out"
    assert workbook["每日趋势"]["A2"].number_format == "yyyy-mm-dd"


def test_pdf_reads_back_with_the_figures_and_departments(tmp_path: Path) -> None:
    text = pdf_text(to_pdf(sample_report(departments=50)), tmp_path)
    assert "12345热线月报（2026年10月）" in text
    assert re.search(r"接通率\s+95\.2%\s+93\.9%\s+\+1\.4个百分点", text)
    assert re.search(r"1\s+市住建局\s+295\s+291\s+.*97\.8", text)
    assert "部门考核（续）" in text, "50 departments take two pages"
    assert re.search(rf"50\s+{department_names(50)[-1]}", text)
    assert "物业管理" in text


def test_pdfs_made_side_by_side_in_threads_are_identical_and_dated_by_the_report() -> None:
    report = sample_report()
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(to_pdf, [report, report])
    assert first == second, "reproducible, also when exports run concurrently"
    assert b"/CreationDate (D:20261031220000Z)" in first, "2026-11-01 06:00 in Beijing"


def test_an_empty_period_exports_with_dashes(tmp_path: Path) -> None:
    report = empty_report()
    rows = csv_rows(to_csv(report))
    assert next(row for row in rows if row[2:3] == ["answer_rate"])[4:] == ["", "", ""]
    assert rows[rows.index(["部门考核"]) + 2:rows.index(["部门考核"]) + 3] == [[]], "a header and no rows"
    workbook = openpyxl.load_workbook(io.BytesIO(to_xlsx(report)))
    overview = workbook["概览"]
    assert overview.cell(sheet_row(overview, 2, "接通率"), 3).value == "—"
    assert not workbook["部门考核"]._charts
    text = pdf_text(to_pdf(report), tmp_path)
    assert re.search(r"接通率\s+—\s+—\s+—", text)
    assert "无数据" in text


def test_a_missing_font_is_named_with_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_pdf, "_font_known", lambda: False)
    monkeypatch.setattr(export_pdf, "_font_file", lambda: None)
    with pytest.raises(ReportFontMissing, match="fonts-noto-cjk"):
        to_pdf(sample_report())
