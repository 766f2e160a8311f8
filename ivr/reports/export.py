"""A report as a file: CSV (here), XLSX (export_xlsx) and PDF (export_pdf); see docs/reports-export.md.

Each export is synchronous and CPU-bound (tens of milliseconds to a second): run it in an executor, never
on the event loop.
"""

from __future__ import annotations

import csv
import io

from ivr.reports.export_pdf import ReportFontMissing, to_pdf
from ivr.reports.export_xlsx import to_xlsx
from ivr.reports.labels import (
    FIGURE_COLUMNS,
    FIGURES_TITLE,
    UNITS,
    Kind,
    Label,
    Value,
    cells,
    figure_rows,
    format_value,
    heading_lines,
    sections,
)
from ivr.reports.model import Report

__all__ = ["ReportFontMissing", "to_csv", "to_pdf", "to_xlsx"]


def to_csv(report: Report) -> bytes:
    """The report as CSV in UTF-8 with a BOM (without one, Excel reads Chinese CSV as the local code page).

    Sections follow each other, a blank line apart: a title line, a header row, the rows. Numbers stay
    machine-readable: a rate is a fraction from 0 to 1 (its header says so), a missing figure an empty field.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([report.period.title])
    writer.writerows(heading_lines(report))
    writer.writerows([[], [FIGURES_TITLE], [*FIGURE_COLUMNS[:2], "代码", "单位", *FIGURE_COLUMNS[2:]]])
    for row in figure_rows(report):
        kind = row.figure.kind
        writer.writerow([row.section, row.figure.name, row.figure.key, UNITS.get(kind, ""),
                         *(_csv_value(value, kind) for value in (row.current, row.previous, row.change))])
    for section in sections(report):
        writer.writerows([[], [section.title], [_csv_header(column) for column in section.columns]])
        writer.writerows(
            [_csv_value(value, column.kind) for value, column in zip(cells(row, section.columns), section.columns,
                                                                     strict=True)]
            for row in section.rows
        )
    return out.getvalue().encode("utf-8-sig")


def _csv_header(column: Label) -> str:
    return f"{column.name}（0–1）" if column.kind == "rate" else column.name


def _csv_value(value: Value, kind: Kind) -> Value:
    if value is None:
        return ""
    if kind == "flag":
        return format_value(value, kind)
    # Four decimals keep a rate to 0.01 percentage point without float noise (0.9523809523809523).
    return round(value, 4) if isinstance(value, float) else value
