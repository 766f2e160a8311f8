"""A report as a PDF, A4 portrait: the key figures, charts, the department assessment and the topics.

Drawn with matplotlib's object API (a Figure per page, no pyplot state) so that exports can run in threads
side by side. Chinese text needs Noto Sans CJK (Debian's fonts-noto-cjk).
"""

from __future__ import annotations

import io
import logging
import math
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ivr.reports.labels import (
    DAY_COLUMNS,
    DEPARTMENT_COLUMNS,
    FIGURE_COLUMNS,
    FIGURES_TITLE,
    TOPIC_COLUMNS,
    Label,
    display_width,
    figure_rows,
    format_change,
    format_value,
    generated_utc,
    heading_lines,
    surged,
)
from ivr.reports.model import DayRow, DepartmentRow, Report, TermRow, TypeRow

FONT = "Noto Sans CJK SC"
FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian and Ubuntu: fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch, Fedora
)
A4 = (8.27, 11.69)  # inches, portrait
LEFT, RIGHT, TOP, BOTTOM = 0.08, 0.92, 0.92, 0.06  # the printed area, as fractions of the page
ROW = 0.22 / A4[1]  # a table row, as a fraction of the page height
TABLE_FONT_SIZE = 8
DEPARTMENT_SUMMARY = ("rank", "name", "dispatched", "replied", "on_time_rate", "return_rate", "overdue",
                      "satisfaction_rate", "score")  # what fits across a portrait page; the XLSX has every column
TOP_TERMS = 20
LEGEND_FONT = {"family": FONT, "size": 8}
BLUE, GREY, RED = "#3b6ea5", "#a9b8c9", "#c8102e"

_font_lock = threading.Lock()


class ReportFontMissing(RuntimeError):
    """Noto Sans CJK is not installed: the PDF could not show Chinese."""


def to_pdf(report: Report) -> bytes:
    """The report as a PDF; its metadata (title, creation date from `generated_at`) make the output reproducible.

    Raises ReportFontMissing when Noto Sans CJK cannot be found.
    """
    _register_font()
    out = io.BytesIO()
    # In UTC: matplotlib 3.11 writes a positive offset with the wrong sign (+08:00 as -08'00').
    metadata = {"Title": report.period.title, "Creator": "12345热线", "CreationDate": generated_utc(report)}
    with PdfPages(out, metadata=metadata) as pdf:
        pages = _Pages(pdf, report.period.title)
        _title_pages(pages, report)
        _chart_pages(pages, report)
        summary = tuple(column for column in DEPARTMENT_COLUMNS if column.key in DEPARTMENT_SUMMARY)
        _table_pages(pages, "部门考核", _label_table(summary, report.departments))
        _table_pages(pages, "按主题", _label_table(TOPIC_COLUMNS, report.by_topic))
    return out.getvalue()


def _register_font() -> None:
    """Make Noto Sans CJK known to matplotlib (its own font cache may already have found it), once."""
    # Type 42 (CID fonts with a ToUnicode map) keeps each line one run of text that pdftotext and search read
    # back whole; Type 3 splits Latin and Chinese into separate fonts whose text comes back out of order.
    # matplotlib 3.11's PDF writer sizes its font subsets by ps.fonttype: at 3, Chinese text is cut into
    # subsets of 256 glyphs, each a pass of fontTools over the 20 MB font collection (~0.7 s).
    # Process-wide on purpose: rc_context would swap every rcParam under exports running in other threads.
    matplotlib.rcParams["pdf.fonttype"] = matplotlib.rcParams["ps.fonttype"] = 42
    # fontTools logs every subset it cuts at INFO (dozens of lines of glyph ids a PDF): not the server's news.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    with _font_lock:
        if _font_known():
            return
        path = _font_file()
        if path is not None:
            font_manager.fontManager.addfont(path)
        if not _font_known():
            raise ReportFontMissing(
                f"the PDF report needs the font {FONT}: install the Debian package fonts-noto-cjk")


def _font_known() -> bool:
    return any(entry.name == FONT for entry in font_manager.fontManager.ttflist)


def _font_file() -> str | None:
    # fc-match always answers, with a fallback such as DejaVu when the font is missing: hence the name check.
    candidates = (_fc_match(), *FONT_FILES)
    return next((path for path in candidates
                 if path and "CJK" in os.path.basename(path) and os.path.isfile(path)), None)


def _fc_match() -> str | None:
    try:
        result = subprocess.run(["fc-match", "-f", "%{file}", FONT], capture_output=True, text=True, timeout=10,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):  # no fontconfig: the known paths remain
        return None
    return result.stdout.strip() or None


@dataclass
class _Pages:
    """The document being written: numbers each page in its footer."""

    pdf: PdfPages
    title: str
    count: int = 0

    def add(self, figure: Figure) -> None:
        self.count += 1
        figure.text(0.5, BOTTOM / 2, f"{self.title}　第 {self.count} 页", ha="center", fontsize=8, color="grey",
                    family=FONT)
        self.pdf.savefig(figure)  # type: ignore[no-untyped-call]  # backend_pdf ships without type hints


def _page(heading: str) -> Figure:
    figure = Figure(figsize=A4)
    figure.text(LEFT, TOP + 0.03, heading, fontsize=14, family=FONT)
    return figure


# Pages: the title with the key figures, the charts, the tables.


def _title_pages(pages: _Pages, report: Report) -> None:
    figure = Figure(figsize=A4)
    figure.text(0.5, 0.95, report.period.title, ha="center", fontsize=18, family=FONT)
    for line, (name, text) in enumerate(heading_lines(report)):
        figure.text(LEFT, 0.91 - 0.02 * line, f"{name}：{text}", fontsize=10, family=FONT)
    figure.text(LEFT, 0.835, FIGURES_TITLE, fontsize=14, family=FONT)
    _table_pages(pages, FIGURES_TITLE, _figures_table(report), first=figure, top=0.82)


def _chart_pages(pages: _Pages, report: Report) -> None:
    figure = _page("话务与工单趋势")
    _chart(figure.add_axes((0.1, 0.53, 0.82, 0.34)), "每日话务量", report.days,
           partial(_lines, keys=("offered", "answered")))
    _chart(figure.add_axes((0.1, 0.1, 0.82, 0.34)), "每日工单量", report.days,
           partial(_lines, keys=("received", "completed")))
    pages.add(figure)
    figure = _page("类型与热点")
    _chart(figure.add_axes((0.1, 0.6, 0.82, 0.27)), "各类型工单受理量", report.by_type, _orders_by_type)
    _chart(figure.add_axes((0.2, 0.08, 0.72, 0.44)), f"热点词（前 {TOP_TERMS} 个）", report.hot_terms[:TOP_TERMS],
           _hot_terms)
    pages.add(figure)
    figure = _page("部门考核得分")
    _chart(figure.add_axes((0.26, BOTTOM + 0.02, 0.66, TOP - BOTTOM - 0.04)), "", report.departments,
           _department_scores)
    pages.add(figure)


# Charts.


def _chart(axes: Axes, title: str, rows: Sequence[Any], draw: Callable[[Axes, Sequence[Any]], None]) -> None:
    """`draw` the rows in the axes, or say that there are none."""
    axes.set_title(title, family=FONT, fontsize=12)
    if not rows:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "无数据", ha="center", va="center", fontsize=12, color="grey", family=FONT,
                  transform=axes.transAxes)
        return
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(color="#e5e5e5", linewidth=0.5)
    axes.set_axisbelow(True)
    draw(axes, rows)
    axes.tick_params(labelfontfamily=FONT)


def _lines(axes: Axes, days: Sequence[DayRow], keys: Sequence[str]) -> None:
    positions = range(len(days))
    for key, color in zip(keys, (BLUE, RED), strict=False):
        name = next(column.name for column in DAY_COLUMNS if column.key == key)
        axes.plot(positions, [getattr(day, key) for day in days], marker="o", markersize=3, color=color,
                  label=name)
    step = math.ceil(len(days) / 16)  # at most 16 dates under the axis
    axes.set_xticks(positions[::step], [day.day[5:] for day in days[::step]])
    axes.tick_params(labelsize=8)
    axes.set_ylim(bottom=0)
    axes.legend(prop=LEGEND_FONT)


def _orders_by_type(axes: Axes, types: Sequence[TypeRow]) -> None:
    positions = range(len(types))
    for offset, label, values, color in (
        (-0.2, "本期", [row.received for row in types], BLUE),
        (0.2, "上期", [row.previous for row in types], GREY),
    ):
        bars = axes.bar([position + offset for position in positions], values, width=0.4, color=color, label=label)
        axes.bar_label(bars, fontsize=7, family=FONT)
    axes.set_xticks(positions, [row.name for row in types])
    axes.tick_params(labelsize=9)
    axes.legend(prop=LEGEND_FONT)


def _hot_terms(axes: Axes, terms: Sequence[TermRow]) -> None:
    bars = axes.barh(range(len(terms)), [term.count for term in terms],
                     color=[RED if term.surge else BLUE for term in terms])
    axes.bar_label(bars, fontsize=7, family=FONT, padding=2)
    axes.set_yticks(range(len(terms)), [term.term for term in terms])
    axes.invert_yaxis()
    axes.tick_params(labelsize=8)
    axes.legend(handles=[Patch(color=RED, label="激增"), Patch(color=BLUE, label="一般")], prop=LEGEND_FONT)


def _department_scores(axes: Axes, departments: Sequence[DepartmentRow]) -> None:
    # Labels as large as the bars allow: about 0.6 of a bar's height, between 4 and 9 points.
    height = axes.get_position().height * A4[1] * 72 / len(departments)
    size = min(9.0, max(4.0, 0.6 * height))
    bars = axes.barh(range(len(departments)), [row.score for row in departments], color=BLUE)
    axes.bar_label(bars, fmt="%.1f", fontsize=size, family=FONT, padding=2)
    axes.set_yticks(range(len(departments)), [f"{row.rank}. {row.name}" for row in departments])
    axes.invert_yaxis()
    axes.set_xlim(0, 105)  # room for the label of a full score
    axes.tick_params(labelsize=size)


# Tables, drawn as text rows: matplotlib's own table would not split over pages.


@dataclass(frozen=True)
class _Table:
    header: Sequence[str]
    numeric: Sequence[bool]  # right-aligned
    rows: Sequence[Sequence[str]]
    marked: Sequence[bool]  # drawn in red: surges


def _figures_table(report: Report) -> _Table:
    figures = figure_rows(report)
    rows = [
        [row.section if index == 0 or figures[index - 1].section != row.section else "", row.figure.name,
         format_value(row.current, row.figure.kind), format_value(row.previous, row.figure.kind),
         format_change(row.change, row.figure.kind)]
        for index, row in enumerate(figures)
    ]
    return _Table(FIGURE_COLUMNS, (False, False, True, True, True), rows, [False] * len(rows))


def _label_table(columns: Sequence[Label], items: Sequence[Any]) -> _Table:
    rows = [[format_value(getattr(item, column.key), column.kind) for column in columns] for item in items]
    numeric = [column.kind not in ("text", "day", "flag") for column in columns]
    return _Table([column.name for column in columns], numeric, rows, [surged(item) for item in items])


def _table_pages(pages: _Pages, heading: str, table: _Table, first: Figure | None = None, top: float = TOP) -> None:
    """The table over as many pages as it needs, its header on each; it starts at `top` of `first` if given."""
    widths = _column_widths(table)
    start = 0
    while True:
        figure = first if first is not None else _page(heading if start == 0 else f"{heading}（续）")
        stop = start + int((top - BOTTOM) / ROW) - 1
        _draw_table(figure, table, widths, range(start, min(stop, len(table.rows))), top)
        pages.add(figure)
        if stop >= len(table.rows):
            return
        first, start, top = None, stop, TOP


def _column_widths(table: _Table) -> list[float]:
    """Each column's share of the printed width, after its widest text (a Chinese character counts 2)."""
    widest = [max(display_width(text) for text in (name, *(row[index] for row in table.rows))) + 2
              for index, name in enumerate(table.header)]
    return [(RIGHT - LEFT) * width / sum(widest) for width in widest]


def _draw_table(figure: Figure, table: _Table, widths: Sequence[float], rows: range, top: float) -> None:
    figure.add_artist(Rectangle((LEFT, top - ROW), RIGHT - LEFT, ROW, color="#dde6f0"))
    _draw_row(figure, table.header, table.numeric, widths, top - ROW / 2, "black")
    if not rows:
        figure.text(LEFT + 0.005, top - 1.5 * ROW, "无数据", va="center", fontsize=TABLE_FONT_SIZE, family=FONT)
    for line, index in enumerate(rows, start=1):
        y = top - line * ROW
        if line % 2 == 0:
            figure.add_artist(Rectangle((LEFT, y - ROW), RIGHT - LEFT, ROW, color="#f4f4f4"))
        color = RED if table.marked[index] else "black"
        _draw_row(figure, table.rows[index], table.numeric, widths, y - ROW / 2, color)


def _draw_row(figure: Figure, texts: Sequence[str], numeric: Sequence[bool], widths: Sequence[float], y: float,
              color: str) -> None:
    left = LEFT
    for text, right_aligned, width in zip(texts, numeric, widths, strict=True):
        x = left + width - 0.005 if right_aligned else left + 0.005
        figure.text(x, y, text, ha="right" if right_aligned else "left", va="center", fontsize=TABLE_FONT_SIZE,
                    color=color, family=FONT)
        left += width
