"""The call record: upserts that merge, a writer that survives the database going away, and a spool."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.store import CallStore, CallWriter
from ivr.calls.tracker import Row
from ivr.db.engine import SchemaOutdated, create_engine, ensure_current, upgrade
from ivr.db.models import Call

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)



async def stored(engine: AsyncEngine) -> list[Call]:
    async with engine.connect() as connection:
        return [Call(**row._asdict()) for row in (await connection.execute(select(Call).order_by(Call.id))).all()]


async def test_upsert_merges_rows_of_the_same_call(engine: AsyncEngine) -> None:
    store = CallStore(engine)
    await store.upsert([{"uniqueid": "1.1", "caller_number": "138", "started_at": START, "outcome": "in_progress"}])
    await store.upsert([{"uniqueid": "1.1", "agent": "8001", "outcome": "answered"}])
    (call,) = await stored(engine)
    assert (call.caller_number, call.agent, call.outcome) == ("138", "8001", "answered")
    assert call.started_at is not None and call.started_at.replace(tzinfo=UTC) == START


async def test_caller_history_counts_earlier_calls_only(engine: AsyncEngine) -> None:
    store = CallStore(engine)
    await store.upsert([
        {"uniqueid": "1.1", "caller_number": "138", "started_at": START},
        {"uniqueid": "1.2", "caller_number": "138", "started_at": START.replace(hour=9)},
        {"uniqueid": "1.3", "caller_number": "139", "started_at": START},
    ])
    history = await store.caller_history("138", START.replace(hour=10), exclude="1.2")
    assert history.prior_calls == 1
    assert history.last_call_at is not None


async def test_schema_check_names_the_command_to_run(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    with pytest.raises(SchemaOutdated, match="hotline db upgrade"):
        await ensure_current(engine)
    await upgrade(engine)
    await ensure_current(engine)
    await engine.dispose()


class FlakyStore:
    """Fails while `down` is set, like a database that is restarting."""

    def __init__(self) -> None:
        self.down = True
        self.attempts = 0
        self.rows: dict[str, Row] = {}

    async def upsert(self, rows: list[Row]) -> None:
        self.attempts += 1
        if self.down:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
        for row in rows:
            self.rows[row["uniqueid"]] = {**self.rows.get(row["uniqueid"], {}), **row}


async def test_rows_wait_while_the_database_is_away_and_land_when_it_returns(tmp_path: Path) -> None:
    store = FlakyStore()
    writer = CallWriter(store, tmp_path / "spool.jsonl", max_delay=0.05)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    writer.submit({"uniqueid": "1.1", "caller_number": "138"})
    assert not await writer.drain(timeout=0.3), "nothing can be written while the database is away"
    assert store.attempts >= 2 and writer.last_error is not None and "connection refused" in writer.last_error
    writer.submit({"uniqueid": "1.1", "outcome": "abandoned"})
    store.down = False
    assert await writer.drain(timeout=2)
    task.cancel()
    assert store.rows == {"1.1": {"uniqueid": "1.1", "caller_number": "138", "outcome": "abandoned"}}
    assert writer.last_error is None


async def test_rows_unwritten_at_shutdown_are_spooled_and_taken_back(tmp_path: Path) -> None:
    spool = tmp_path / "spool" / "calls.jsonl"
    writer = CallWriter(FlakyStore(), spool)  # type: ignore[arg-type]
    writer.submit({"uniqueid": "1.1", "started_at": START, "outcome": "answered"})
    assert writer.save_spool() == 1 and spool.exists()

    store = FlakyStore()
    store.down = False
    restarted = CallWriter(store, spool)  # type: ignore[arg-type]
    assert restarted.load_spool() == 1 and not spool.exists()
    task = asyncio.create_task(restarted.run())
    assert await restarted.drain(timeout=2)
    task.cancel()
    assert store.rows["1.1"]["started_at"] == START


class CountingStore(FlakyStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.batches: list[list[Row]] = []
        self.written = asyncio.Event()

    async def upsert(self, rows: list[Row]) -> None:
        self.batches.append(rows)
        await super().upsert(rows)
        self.written.set()


async def test_a_calls_partial_rows_gather_into_one_write_and_its_last_row_does_not_wait(tmp_path: Path) -> None:
    store = CountingStore()
    writer = CallWriter(store, tmp_path / "spool.jsonl", gather_seconds=5.0)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    writer.submit({"uniqueid": "1.1", "caller_number": "138", "outcome": "in_progress"})
    writer.submit({"uniqueid": "1.2", "caller_number": "139", "outcome": "in_progress"})
    await asyncio.sleep(0.2)
    writer.submit({"uniqueid": "1.1", "agent": "8001", "outcome": "answered"})
    assert store.batches == [], "partial rows wait for more"

    writer.submit({"uniqueid": "1.1", "ended_at": START, "outcome": "answered"})
    async with asyncio.timeout(1):
        await store.written.wait()
    assert len(store.batches) == 1 and len(store.batches[0]) == 2, "one write, one row per call"
    assert store.rows["1.1"] == {"uniqueid": "1.1", "caller_number": "138", "agent": "8001", "ended_at": START,
                                 "outcome": "answered"}
    writer.submit({"uniqueid": "1.2", "outcome": "abandoned"})
    assert await writer.drain(timeout=1), "a drain does not wait for the gathering"
    task.cancel()
