"""The call record: upserts that merge, a writer that survives the database going away, and a spool."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError, OperationalError
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


async def test_a_row_the_database_refuses_is_set_aside_and_the_others_are_written(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """A refused INVITE to a 70-character number once held every later call row behind it, for ever."""
    spool = tmp_path / "spool" / "calls.jsonl"
    writer = CallWriter(CallStore(engine), spool)
    written: list[str] = []
    writer.on_written(lambda row: written.append(row["uniqueid"]))
    task = asyncio.create_task(writer.run())
    wrong_type = {"uniqueid": "1.2", "caller_number": "138", "started_at": "yesterday", "outcome": "refused"}
    too_long = {"uniqueid": "1.3", "dialled_number": "9" * 70, "started_at": START, "outcome": "refused"}
    for row in ({"uniqueid": "1.1", "caller_number": "138", "started_at": START, "outcome": "answered"},
                wrong_type, too_long, {"uniqueid": "1.4", "caller_number": "139", "outcome": "abandoned"}):
        writer.submit(row)
    assert await writer.drain(timeout=5), "the refused rows must not hold the batch"
    writer.submit({"uniqueid": "1.5", "caller_number": "137", "outcome": "in_progress"})
    assert await writer.drain(timeout=5), "nor the rows that come after"
    task.cancel()

    # SQLite keeps a text of any length; PostgreSQL refuses one longer than varchar(64).
    refused = {"1.2", "1.3"} if engine.dialect.name == "postgresql" else {"1.2"}
    assert {call.uniqueid for call in await stored(engine)} == {"1.1", "1.4", "1.5", "1.3"} - refused
    assert sorted(written) == sorted({"1.1", "1.4", "1.5", "1.3"} - refused)
    entries = [json.loads(line) for line in writer.rejected.read_text().splitlines()]
    assert writer.rejected == spool.with_name("calls-rejected.jsonl")
    assert {entry["row"]["uniqueid"] for entry in entries} == refused
    assert all(entry["reason"] and entry["rejected_at"] for entry in entries)
    if engine.dialect.name == "postgresql":
        too_long_entry = next(entry for entry in entries if entry["row"]["uniqueid"] == "1.3")
        assert "too long" in too_long_entry["reason"] and too_long_entry["row"]["dialled_number"] == "9" * 70
    assert (writer.rows_rejected, writer.last_error) == (len(refused), None)
    assert writer.last_rejection == entries[-1]["reason"]
    assert CallWriter(CallStore(engine), spool).rows_rejected == len(refused), "counted again after a restart"


async def test_a_connection_error_while_writing_one_by_one_keeps_the_rest_for_retry(tmp_path: Path) -> None:
    class RefusingStore(FlakyStore):
        """Refuses a batch for its data once; then the database goes away right after row 1.1."""

        refused = went_away = False

        async def upsert(self, rows: list[Row]) -> None:
            if not self.refused:
                self.refused = True
                raise DataError("INSERT", {}, ValueError("value too long"))
            await super().upsert(rows)
            if not self.went_away:
                self.down = self.went_away = True

    store = RefusingStore()
    store.down = False
    writer = CallWriter(store, tmp_path / "calls.jsonl", max_delay=0.05)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    for uniqueid in ("1.1", "1.2", "1.3"):
        writer.submit({"uniqueid": uniqueid, "caller_number": "138"})
    assert not await writer.drain(timeout=0.3)
    assert set(store.rows) == {"1.1"} and set(writer.pending) == {"1.2", "1.3"}, "kept, not set aside"
    assert writer.rows_rejected == 0 and writer.last_error is not None
    store.down = False
    assert await writer.drain(timeout=2)
    task.cancel()
    assert set(store.rows) == {"1.1", "1.2", "1.3"}


async def test_rows_set_aside_are_taken_back_through_the_spool_as_operations_md_says(tmp_path: Path) -> None:
    class RefusingOnce(FlakyStore):
        async def upsert(self, rows: list[Row]) -> None:
            if self.down:
                raise DataError("INSERT", {}, ValueError("value too long"))
            await super().upsert(rows)

    spool = tmp_path / "spool" / "calls.jsonl"
    refusing = RefusingOnce()
    writer = CallWriter(refusing, spool)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    writer.submit({"uniqueid": "1.1", "started_at": START, "outcome": "refused"})
    assert await writer.drain(timeout=2)
    task.cancel()
    assert writer.rows_rejected == 1 and not spool.exists()

    # jq -c .row calls-rejected.jsonl >> calls.jsonl; mv calls-rejected.jsonl …; start the server
    rows = [json.dumps(json.loads(line)["row"]) for line in writer.rejected.read_text().splitlines()]
    spool.write_text("\n".join(rows) + "\n")
    writer.rejected.rename(tmp_path / "taken-back.jsonl")
    fixed = FlakyStore()
    fixed.down = False
    restarted = CallWriter(fixed, spool)  # type: ignore[arg-type]
    assert restarted.rows_rejected == 0 and restarted.load_spool() == 1
    task = asyncio.create_task(restarted.run())
    assert await restarted.drain(timeout=2)
    task.cancel()
    assert fixed.rows["1.1"] == {"uniqueid": "1.1", "started_at": START, "outcome": "refused"}
