"""A report as the web page shows it: every figure named and formatted by ivr/reports/labels.py (the names the
files use too), next to the raw figures of Report.as_json()."""

from __future__ import annotations

from typing import Any

from ivr.reports.labels import cells, figure_rows, format_change, format_value, sections, surged
from ivr.reports.model import Report


def view(report: Report) -> dict[str, Any]:
    return {
        "title": report.period.title,
        "figures": [[row.section, row.figure.name, format_value(row.current, row.figure.kind),
                     format_value(row.previous, row.figure.kind), format_change(row.change, row.figure.kind)]
                    for row in figure_rows(report)],
        "sections": [{"title": section.title, "columns": [column.name for column in section.columns],
                      "rows": [[format_value(value, column.kind)
                                for value, column in zip(cells(row, section.columns), section.columns, strict=True)]
                               for row in section.rows],
                      "surges": [surged(row) for row in section.rows]}
                     for section in sections(report)],
    }
