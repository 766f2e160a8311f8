"""Reconciles the call records with Asterisk's queue log, which Asterisk writes even while we are away.

Each pass reads the lines added since the last one, folds them per call (routing/queue_log.py) and, for
every call whose queue history is over: fills the queue facts its record lacks (a call recorded by the
classic AGI spool while the server was down, or whose AMI events were missed during a reconnect), inserts a
call the database does not know at all, and logs and counts where the record and the log disagree.

Where reading stopped is kept in a small JSON file under data_dir (`queue_log.state`), next to the call
spool, rather than in a table: it describes this machine's Asterisk file, not the hotline's data, and it
must be written in the same breath as the read, also while the database is away. It holds the file's
inode (a rotated file starts over), the byte offset to resume from, and the calls after that offset that
are already reconciled. The offset stays at the first line of the earliest call still in progress, so that
a call whose lines straddle two passes, or a restart, is always folded whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ivr.calls.columns import bounded
from ivr.calls.store import CallStore
from ivr.calls.tracker import Row
from routing.queue_log import Malformed, QueueCall, Reconciliation, fold, is_ready, parse_lines, reconcile

logger = logging.getLogger(__name__)
# After leaving a stretch of the queue the caller hears an announcement (at most fastagi.handler_timeout)
# and comes back: a call whose last line is an exit is over once it has not come back for this long.
SETTLE = timedelta(seconds=60)
# A call with no final line after this long never gets one (Asterisk stopped mid-call): stop re-reading it.
ABANDON_READING_AFTER = timedelta(hours=6)


@dataclass
class ReadState:
    inode: int | None = None
    offset: int = 0  # where the next pass starts reading
    line: int = 0  # lines before `offset`, to name a line by its number
    seen: int = 0  # the offset up to which lines were read (a bad line is reported once)
    reconciled: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Line:
    number: int
    offset: int
    end: int  # the offset after its newline
    text: str


@dataclass
class ImportReport:
    lines: int = 0
    malformed: list[Malformed] = field(default_factory=list)
    filled: list[Reconciliation] = field(default_factory=list)
    inserted: list[Reconciliation] = field(default_factory=list)
    discrepancies: list[Reconciliation] = field(default_factory=list)


@dataclass
class ImportTotals:
    """Counts since the server started (the reports themselves would grow without end)."""

    lines: int = 0
    malformed: int = 0
    filled: int = 0
    inserted: int = 0
    discrepancies: int = 0


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def holds(self, call: QueueCall) -> bool:
        return call.enqueued_at is not None and self.start <= call.enqueued_at < self.end


def read_lines(path: Path, state: ReadState) -> tuple[ReadState, list[Line]]:
    """The complete lines after `state.offset`; a new inode or a shorter file starts again from the top."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return state, []
    if stat.st_ino != state.inode or stat.st_size < state.seen:
        state = ReadState(inode=stat.st_ino)
    with path.open("rb") as handle:
        handle.seek(state.offset)
        data = handle.read()
    lines: list[Line] = []
    offset, number = state.offset, state.line
    for raw in data.split(b"\n")[:-1]:  # after the last newline: nothing, or a line still being written
        number += 1
        lines.append(Line(number, offset, offset + len(raw) + 1, raw.decode("utf-8", errors="replace")))
        offset += len(raw) + 1
    return state, lines


def end_of(path: Path) -> ReadState:
    """Start following a log from its end (the first run: older calls are for `hotline kpi reconcile`)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return ReadState()
    with path.open("rb") as handle:
        lines = handle.read().count(b"\n")
    return ReadState(stat.st_ino, stat.st_size, lines, stat.st_size)


class QueueLogImporter:
    """One pass at a time; `state_file` None reads the whole file every time (the CLI)."""

    def __init__(self, path: Path, store: CallStore, save: Callable[[list[Row]], Awaitable[None]],
                 max_wait_seconds: float, state_file: Path | None = None, period: Period | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.path = path
        self.store = store
        self.save = save
        self.max_wait_seconds = max_wait_seconds
        self.state_file = state_file
        self.period = period
        self.clock = clock
        self.totals = ImportTotals()
        self._state: ReadState | None = None
        self._lock = asyncio.Lock()

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.import_new()
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("queue log import failed, tried again in %g s: %s", interval, exc)
            await asyncio.sleep(interval)

    async def import_new(self) -> ImportReport:
        async with self._lock:
            if self._state is None:
                self._state = await asyncio.to_thread(self._load_state)
            state, lines = await asyncio.to_thread(read_lines, self.path, self._state)
            report, state = await self._reconcile(state, lines)
            if self.state_file is not None:
                await asyncio.to_thread(_write_state, self.state_file, state)
                self._state = state
            self._add_to_totals(report)
            return report

    async def _reconcile(self, state: ReadState, lines: list[Line]) -> tuple[ImportReport, ReadState]:
        records = parse_lines((line.number, line.text) for line in lines)
        report = ImportReport(lines=len(lines))
        fresh = {line.number for line in lines if line.offset >= state.seen}
        report.malformed = [r for r in records if isinstance(r, Malformed) and r.line_number in fresh]
        for item in report.malformed:
            logger.warning("%s", item)
        # A call seen from the middle (its start was before the log was first followed, or in a rotated
        # file) has no whole history to tell: it is left alone.
        calls = {uid: call for uid, call in fold(records).items() if call.whole}
        done = set(state.reconciled)
        candidates = [c for uid, c in calls.items() if uid not in done and (not self.period or self.period.holds(c))]
        stored = await self.store.rows_by_uniqueid([call.uniqueid for call in candidates])
        now = self.clock()
        for call in candidates:
            if is_ready(call, stored.get(call.uniqueid), now, SETTLE):
                self._sort(reconcile(call, stored.get(call.uniqueid), self.max_wait_seconds), report)
                done.add(call.uniqueid)
        await self.save([bounded(r.filled | {"uniqueid": r.uniqueid}) for r in report.filled + report.inserted])
        return report, _next_state(state, lines, calls, done, now)

    def _sort(self, result: Reconciliation, report: ImportReport) -> None:
        if result.inserted:
            report.inserted.append(result)
            logger.info("[%s] call unknown to the database, recorded from the queue log", result.uniqueid)
        elif result.filled:
            report.filled.append(result)
            logger.info("[%s] filled from the queue log: %s", result.uniqueid, ", ".join(result.filled))
        if result.discrepancies:
            report.discrepancies.append(result)
            logger.warning("[%s] the call record disagrees with the queue log: %s", result.uniqueid,
                           "; ".join(result.discrepancies))

    def _add_to_totals(self, report: ImportReport) -> None:
        self.totals.lines += report.lines
        self.totals.malformed += len(report.malformed)
        self.totals.filled += len(report.filled)
        self.totals.inserted += len(report.inserted)
        self.totals.discrepancies += len(report.discrepancies)

    def _load_state(self) -> ReadState:
        if self.state_file is None:
            return ReadState()
        try:
            return ReadState(**json.loads(self.state_file.read_text()))
        except FileNotFoundError:
            return end_of(self.path)
        except (ValueError, TypeError) as exc:
            logger.error("%s is unreadable (%s): following the queue log from its end", self.state_file, exc)
            return end_of(self.path)


def _next_state(state: ReadState, lines: list[Line], calls: dict[str, QueueCall], done: set[str],
                now: datetime) -> ReadState:
    """Resume at the first line of the earliest call not yet reconciled; remember those reconciled after it."""
    if not lines:
        return state
    offsets = {line.number: line.offset for line in lines}
    pending = [call for uid, call in calls.items() if uid not in done and now - call.last_at < ABANDON_READING_AFTER]
    end = lines[-1].end
    first = min((call.first_line for call in pending), default=None)
    if first is None:
        return ReadState(state.inode, end, lines[-1].number, end, [])
    kept = sorted(uid for uid in done if uid in calls and calls[uid].first_line >= first)
    return ReadState(state.inode, offsets[first], first - 1, max(end, state.seen), kept)


def _write_state(path: Path, state: ReadState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(state)))
    os.replace(temporary, path)
