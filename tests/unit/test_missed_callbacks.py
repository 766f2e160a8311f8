"""Every missed call gets its callback once its row is written (issue 15, hole 8): rows written late after a
database outage, rows the queue log recovered after a restart, and callbacks that could not be written when
their row was (the sweep) — each exactly once, however often the row is written."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callbacks.dialer import CallbackDialer
from ivr.callbacks.store import CallbackStore
from ivr.calls.queue_log import SETTLE, QueueLogImporter
from ivr.calls.store import CallStore, CallWriter
from ivr.calls.tracker import Row
from ivr.db.models import Callback
from ivr.settings import load_settings
from routing.callbacks import callback_day

MOBILE, OTHER = "13800138000", "13900139000"


def away() -> OperationalError:
    return OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))


class AwayCallStore(CallStore):
    """The call store while the database is away (`down`), the real one once it is back."""

    down = True

    async def upsert(self, rows: list[Row]) -> None:
        if self.down:
            raise away()
        await super().upsert(rows)


class AwayCallbackStore(CallbackStore):
    down = False

    async def add_missed(self, *args: Any, **kwargs: Any) -> None:
        if self.down:
            raise away()
        await super().add_missed(*args, **kwargs)


async def callbacks(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(Callback.number, Callback.origin_uniqueid, Callback.status)
                                         .order_by(Callback.id))).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def dialer_for(engine: AsyncEngine) -> tuple[CallbackDialer, AwayCallbackStore]:
    store = AwayCallbackStore(engine)
    return CallbackDialer(load_settings(environ={}), object(), store), store  # type: ignore[arg-type]


def missed(uniqueid: str, number: str = MOBILE) -> Row:
    now = datetime.now(UTC)
    return {"uniqueid": uniqueid, "caller_number": number, "outcome": "abandoned", "started_at": now, "ended_at": now}


async def test_a_missed_call_written_after_a_database_outage_gets_its_callback_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    calls = AwayCallStore(engine)
    writer = CallWriter(calls, tmp_path / "spool.jsonl", max_delay=0.05)
    dialer, store = dialer_for(engine)
    writer.on_written(dialer.call_written)
    recorded: asyncio.Queue[str] = asyncio.Queue()
    dialer.recorded_listeners.append(recorded.put_nowait)
    task = asyncio.create_task(writer.run())
    store.down = True  # the whole database is away while the citizen gives up
    writer.submit(missed("1.1"))
    assert not await writer.drain(timeout=0.3)

    calls.down = store.down = False  # back
    assert await writer.drain(timeout=5)
    assert await asyncio.wait_for(recorded.get(), 5) == MOBILE
    writer.submit(missed("1.1"))  # the same row written again (a queue-log filling, a second server)
    assert await writer.drain(timeout=5)
    await asyncio.wait_for(recorded.get(), 5)
    task.cancel()
    assert await callbacks(engine) == [(MOBILE, "1.1", "pending")]


async def test_a_callback_the_database_lost_between_row_and_callback_is_made_by_the_sweep(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    writer = CallWriter(CallStore(engine), tmp_path / "spool.jsonl")
    dialer, store = dialer_for(engine)
    writer.on_written(dialer.call_written)
    dialer.unswept = False  # as after the start's sweep
    task = asyncio.create_task(writer.run())
    store.down = True  # the row is in, then the database goes away before its callback
    writer.submit(missed("2.1"))
    assert await writer.drain(timeout=5)
    await dialer.background.finish(timeout=5)
    assert await callbacks(engine) == [] and dialer.unswept

    store.down = False
    assert await dialer.sweep() == 1 and not dialer.unswept
    assert await dialer.sweep() == 0, "a callback found once is not looked for again"
    writer.submit(missed("2.1"))
    assert await writer.drain(timeout=5)
    await dialer.background.finish(timeout=5)
    task.cancel()
    assert await callbacks(engine) == [(MOBILE, "2.1", "pending")]


def qlog(stamp: float, uniqueid: str, event: str, *data: object) -> str:
    return "|".join([str(int(stamp)), uniqueid, "hotline-general", "NONE", event, *map(str, data)])


async def test_missed_calls_recovered_from_the_queue_log_after_a_restart_get_their_callbacks(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """One call the database never saw (inserted from the log), one recorded as still in progress (the log
    fills its outcome, not its number): both were abandoned while the server was down."""
    calls = CallStore(engine)
    writer = CallWriter(calls, tmp_path / "spool.jsonl")
    dialer, _store = dialer_for(engine)
    writer.on_written(dialer.call_written)
    dialer.unswept = False
    start = time.time() - 120
    await calls.upsert([{"uniqueid": "4.2", "caller_number": OTHER, "started_at": datetime.fromtimestamp(start, UTC),
                         "outcome": "in_progress"}])
    log = tmp_path / "queue_log"
    log.write_text("\n".join([
        qlog(start, "4.1", "ENTERQUEUE", "", MOBILE, 1), qlog(start + 20, "4.1", "ABANDON", 1, 1, 20),
        qlog(start, "4.2", "ENTERQUEUE", "", OTHER, 1), qlog(start + 25, "4.2", "ABANDON", 1, 1, 25),
    ]) + "\n")

    async def save(rows: list[Row]) -> None:
        for row in rows:
            writer.submit(row)

    importer = QueueLogImporter(log, calls, save, 300, clock=lambda: datetime.fromtimestamp(
        start + 25, UTC) + SETTLE * 2)
    task = asyncio.create_task(writer.run())
    report = await importer.import_new()
    assert ([r.uniqueid for r in report.inserted], [r.uniqueid for r in report.filled]) == (["4.1"], ["4.2"])
    assert await writer.drain(timeout=5)
    await dialer.background.finish(timeout=5)
    task.cancel()
    assert await callbacks(engine) == [(MOBILE, "4.1", "pending")]
    assert dialer.unswept, "the filled row carries no number: the sweep looks it up"

    assert await dialer.sweep() == 1
    assert sorted(await callbacks(engine)) == [(MOBILE, "4.1", "pending"), (OTHER, "4.2", "pending")]


async def test_the_sweep_reads_page_after_page_past_calls_that_already_have_a_callback(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ivr.callbacks.store.SWEEP_PAGE", 2)
    monkeypatch.setattr("ivr.callbacks.dialer.SWEEP_PAGE", 2)
    dialer, store = dialer_for(engine)
    zone = ZoneInfo(dialer.settings.timezone)
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    first = max(datetime.now(UTC) - timedelta(hours=2), midnight.astimezone(UTC) + timedelta(minutes=1))
    # The number called back this morning already (its callback made before these calls), then missed three
    # more times: each time found again, and no second callback that day; three other numbers after it.
    await store.add_missed(MOBILE, callback_day(first, dialer.settings.timezone), "6.earlier",
                           first - timedelta(seconds=30))
    numbers = [MOBILE, MOBILE, MOBILE, "13700137001", "13700137002", "13700137003"]
    await CallStore(engine).upsert([
        {"uniqueid": f"6.{i}", "caller_number": number, "outcome": "timed_out",
         "started_at": first + timedelta(seconds=i), "ended_at": first + timedelta(seconds=i + 1)}
        for i, number in enumerate(numbers)])

    assert await dialer.sweep() == 6
    assert sorted(number for number, _origin, _status in await callbacks(engine)) == sorted(set(numbers))
    assert await dialer.sweep() == 3, "the repeat calls are looked at again, and add nothing"
    assert len(await callbacks(engine)) == 4
