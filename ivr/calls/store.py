"""The durable record of calls: upserts by unique id, retried until the database takes them; a row it can never
take is set aside, with the reason, in a file beside the spool."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.tracker import Row
from ivr.db.engine import upsert_insert
from ivr.db.models import Call, as_utc

logger = logging.getLogger(__name__)
FINAL_GATHER_SECONDS = 0.1
REASON_LENGTH = 300
REFUSED_SQLSTATE_CLASSES = ("22", "23")


def refuses_the_row(exc: BaseException) -> bool:
    """The database refused what was written (a value too long or of the wrong type, a constraint), not the
    connection: writing the same row again can never work. asyncpg's errors reach SQLAlchemy as a plain
    DBAPIError, so PostgreSQL's SQLSTATE class tells: 22 data exception, 23 integrity constraint. Anything else
    (the database away, restarting, out of connections) is worth retrying. A StatementError that is not a
    DBAPIError failed turning a value into a parameter, before reaching the database."""
    if isinstance(exc, DataError | IntegrityError):
        return True
    if isinstance(exc, DBAPIError):
        return str(getattr(exc.orig, "sqlstate", None) or "")[:2] in REFUSED_SQLSTATE_CLASSES
    return isinstance(exc, StatementError)


def reason_of(exc: BaseException) -> str:
    """The error's class and first line (not the statement and parameters SQLAlchemy appends)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:REASON_LENGTH]


@dataclass(frozen=True)
class CallerHistory:
    prior_calls: int
    last_call_at: datetime | None


def columns_of(row: Row) -> tuple[str, ...]:
    return tuple(sorted(row))


class CallStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = upsert_insert(engine)
        self._statements: dict[tuple[str, ...], Any] = {}
        # Built once (the values go as parameters): it runs for every call's greeting.
        self._caller_history = select(func.count(Call.id), func.max(Call.started_at)).where(
            Call.caller_number == bindparam("number"),
            Call.started_at >= bindparam("since"),
            Call.uniqueid != bindparam("exclude"),
        )

    async def upsert(self, rows: list[Row]) -> None:
        """In order; consecutive rows with the same columns go in one executemany."""
        async with self.engine.begin() as connection:
            for columns, group in groupby(rows, key=columns_of):
                await connection.execute(self._upsert_statement(columns), list(group))

    def _upsert_statement(self, columns: tuple[str, ...]) -> Any:
        """INSERT … ON CONFLICT (uniqueid) DO UPDATE of these columns, built once per set of columns (the
        values go as parameters): building a statement for every row was most of the server's CPU with
        200 calls in bench/call_load.py."""
        statement = self._statements.get(columns)
        if statement is None:
            insert = self._insert(Call)
            updates = {key: insert.excluded[key] for key in columns if key != "uniqueid"}
            statement = self._statements[columns] = insert.on_conflict_do_update(
                index_elements=["uniqueid"], set_=updates
            )
        return statement

    async def caller_history(self, number: str, now: datetime, exclude: str, days: int = 30) -> CallerHistory:
        parameters = {"number": number, "since": now - timedelta(days=days), "exclude": exclude}
        async with self.engine.connect() as connection:
            count, last = (await connection.execute(self._caller_history, parameters)).one()
        return CallerHistory(int(count), last)


    async def get(self, uniqueid: str) -> Call | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(Call).where(Call.uniqueid == uniqueid))).first()
        return Call(**row._asdict()) if row else None

    async def rows_by_uniqueid(self, uniqueids: Collection[str], chunk: int = 500) -> dict[str, Row]:
        """The stored calls among `uniqueids`, as rows without their empty fields (times in UTC)."""
        wanted, found = list(uniqueids), {}
        async with self.engine.connect() as connection:
            for start in range(0, len(wanted), chunk):
                query = select(Call).where(Call.uniqueid.in_(wanted[start : start + chunk]))
                for row in (await connection.execute(query)).all():
                    found[row.uniqueid] = _stored_row(row._asdict())
        return found

    async def unfinished(self, limit: int = 2000) -> list[Row]:
        """Stored calls with no end yet, oldest first, as rows without their empty fields (times in UTC)."""
        query = select(Call).where(Call.ended_at.is_(None)).order_by(Call.id).limit(limit)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_stored_row(row._asdict()) for row in rows]

    async def recent_calls(self, number: str, exclude: str, limit: int) -> list[Call]:
        """The caller's latest calls, newest first: what the agent sees when the call pops up."""
        query = (
            select(Call)
            .where(Call.caller_number == number, Call.uniqueid != exclude)
            .order_by(Call.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [Call(**row._asdict()) for row in rows]

    async def recent_handle_seconds(self, wrapup_seconds: float, calls: int = 50) -> float | None:
        """Average talk + wrap-up over the latest answered calls; None before the first one."""
        latest = (
            select(Call.talk_seconds)
            .where(Call.outcome == "answered", Call.talk_seconds.is_not(None))
            .order_by(Call.id.desc())
            .limit(calls)
            .subquery()
        )
        async with self.engine.connect() as connection:
            average = (await connection.execute(select(func.avg(latest.c.talk_seconds)))).scalar()
        return None if average is None else float(average) + wrapup_seconds

    async def last_ended_call(self, number: str, since: datetime) -> Call | None:
        query = (
            select(Call)
            .where(Call.caller_number == number, Call.ended_at.is_not(None), Call.started_at >= since)
            .order_by(Call.id.desc())
            .limit(1)
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return Call(**row._asdict()) if row is not None else None


def _stored_row(values: dict[str, Any]) -> Row:
    return {k: as_utc(v) if isinstance(v, datetime) else v for k, v in values.items() if v is not None}


def _iso(value: datetime) -> str:
    return value.isoformat()


def _rejected_so_far(path: Path) -> tuple[int, str | None]:
    """How many rows the file holds, and the last one's reason."""
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return 0, None
    try:
        last = json.loads(lines[-1]).get("reason") if lines else None
    except ValueError:
        last = None
    return len(lines), last


class CallWriter:
    """Takes rows without blocking the caller's path and writes them in order, retrying on failure.

    A row the database refuses (not for a connection error) is set aside in `rejected` with the reason; its
    count and the last reason are kept (from the file at start) for /healthz and /metrics.

    Rows for the same call are merged while they wait, and rows gather for up to `gather_seconds` before a
    write, so that one transaction carries many calls' rows (with 200 calls the transactions, not the
    rows, were the cost). A call's last row (it has ended_at) and a drain do not wait.
    """

    def __init__(self, store: CallStore, spool: Path, max_delay: float = 10.0, gather_seconds: float = 0.5) -> None:
        self.store = store
        self.spool = spool
        self.rejected = spool.with_name(f"{spool.stem}-rejected.jsonl")  # rows the database refused
        self.rows_rejected, self.last_rejection = _rejected_so_far(self.rejected)
        self.max_delay = max_delay
        self.gather_seconds = gather_seconds
        self.pending: dict[str, Row] = {}
        self.last_error: str | None = None
        self.rows_written = 0
        self.writes = 0
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()  # a call ended, or someone drains: write without gathering
        self._draining = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._listeners: list[Callable[[Row], None]] = []

    def submit(self, row: Row) -> None:
        uniqueid = row["uniqueid"]
        known = self.pending.get(uniqueid)
        self.pending[uniqueid] = row if known is None else {**known, **row}
        if row.get("ended_at") is not None:
            self._urgent.set()
        self._idle.clear()
        self._wake.set()

    def on_written(self, listener: Callable[[Row], None]) -> Callable[[], None]:
        """Call `listener` with each row once it is in the database; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def run(self) -> None:
        delay = 0.2
        while True:
            await self._wake.wait()
            await self._gather()
            self._wake.clear()
            batch, self.pending = self.pending, {}
            try:
                await self._write(batch)
            except (SQLAlchemyError, OSError) as exc:
                self._requeue(batch)  # what is left of it
                self.last_error = reason_of(exc)[:200]
                logger.warning("database write failed, %d call(s) kept for retry in %.1f s: %s",
                               len(batch), delay, self.last_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_delay)
                self._wake.set()
                continue
            delay, self.last_error = 0.2, None
            self.writes += 1
            if not self._still_urgent():
                self._urgent.clear()
            if not self.pending:
                self._idle.set()

    async def _write(self, batch: dict[str, Row]) -> None:
        """Write the batch in one transaction, emptying it. If the database refuses a row, each row goes in
        its own, and the ones refused are set aside: one bad row never holds the others. On a connection error
        the rows not yet written stay in `batch`."""
        # One row per call, so any order will do: sorted, rows with the same columns are consecutive and go in
        # one executemany.
        rows = sorted(batch.values(), key=columns_of)
        try:
            await self.store.upsert(rows)
        except SQLAlchemyError as exc:
            if not refuses_the_row(exc):
                raise
            logger.warning("the database refused a batch of %d call row(s) (%s): writing them one by one",
                           len(rows), reason_of(exc))
            for row in rows:
                await self._write_alone(row)
                del batch[row["uniqueid"]]
            return
        batch.clear()
        self._written(rows)

    async def _write_alone(self, row: Row) -> None:
        try:
            await self.store.upsert([row])
        except SQLAlchemyError as exc:
            if not refuses_the_row(exc):
                raise
            await asyncio.to_thread(self._set_aside, row, reason_of(exc))
            return
        self._written([row])

    def _written(self, rows: list[Row]) -> None:
        self.rows_written += len(rows)
        for row in rows:
            for listener in list(self._listeners):
                listener(row)

    def _set_aside(self, row: Row, reason: str) -> None:
        """Append the row to the rejected file (synced: the row is in no other place), with why and when."""
        entry = {"rejected_at": datetime.now(UTC), "reason": reason, "row": row}
        self.rejected.parent.mkdir(parents=True, exist_ok=True)
        with self.rejected.open("a") as handle:
            handle.write(json.dumps(entry, default=_iso) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.rows_rejected += 1
        self.last_rejection = reason
        logger.error("[%s] call row refused by the database, set aside in %s: %s", row.get("uniqueid"),
                     self.rejected, reason)

    async def _gather(self) -> None:
        """Let more rows join the write: a call's rows come in bursts (ring and greeting, queue, answer, end)
        and many calls' bursts overlap, so waiting a little turns many small transactions into one. A call's
        last row waits only `FINAL_GATHER_SECONDS` (hang-ups come in bursts too); a drain not at all."""
        try:
            async with asyncio.timeout(self.gather_seconds):
                await self._urgent.wait()
        except TimeoutError:
            return
        if not self._draining:
            await asyncio.sleep(min(FINAL_GATHER_SECONDS, self.gather_seconds))

    def _still_urgent(self) -> bool:
        return self._draining > 0 or any(row.get("ended_at") is not None for row in self.pending.values())

    def _requeue(self, batch: dict[str, Row]) -> None:
        for uniqueid, row in batch.items():
            self.pending[uniqueid] = {**row, **self.pending.get(uniqueid, {})}

    def load_spool(self) -> int:
        """Take back rows a previous run could not write (the database was away when it stopped)."""
        if not self.spool.exists():
            return 0
        rows = [json.loads(line) for line in self.spool.read_text().splitlines() if line.strip()]
        for row in rows:
            self.submit({k: datetime.fromisoformat(v) if k.endswith("_at") else v for k, v in row.items()})
        self.spool.unlink()
        logger.info("took back %d call row(s) from %s", len(rows), self.spool)
        return len(rows)

    def save_spool(self) -> int:
        """Keep unwritten rows on disk so that stopping while the database is away loses nothing."""
        if not self.pending:
            return 0
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(row, default=_iso) for row in self.pending.values()]
        temporary = self.spool.with_suffix(".tmp")
        temporary.write_text("\n".join(lines) + "\n")
        os.replace(temporary, self.spool)
        logger.warning("database unreachable: %d call row(s) kept in %s", len(lines), self.spool)
        return len(lines)

    async def drain(self, timeout: float) -> bool:
        """Wait until everything submitted is written; False if the database stayed away."""
        self._draining += 1
        self._urgent.set()
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._draining -= 1
