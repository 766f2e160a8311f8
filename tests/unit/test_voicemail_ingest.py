"""Taking voicemail in from the folder, on SQLite and PostgreSQL: a recording nobody reported (the FastAGI server
was down at the hang-up) becomes a draft once its call has ended, or once it is older than the longest recording;
the retention setting deletes old recordings of orders no longer open, and says so in their history."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.store import CallStore
from ivr.db.models import Attachment, OrderEvent, WorkOrder
from ivr.settings import TranscriptionSettings, VoicemailSettings
from ivr.voicemail.ingest import VoicemailIngester
from ivr.voicemail.store import VoicemailStore, policy_of

SETTINGS = VoicemailSettings(max_seconds=120, retention_days=30)


def ingester(engine: AsyncEngine, folder: Path, taken: list[str]) -> VoicemailIngester:
    store = VoicemailStore(engine, policy_of(TranscriptionSettings()))
    return VoicemailIngester(store, CallStore(engine), folder, folder / "archive", SETTINGS,
                             lambda: taken.append("taken"))


def recorded(folder: Path, uniqueid: str, age: timedelta = timedelta(0)) -> Path:
    path = folder / f"{uniqueid}.wav"
    path.write_bytes(b"RIFF....WAVE")
    moment = (datetime.now(UTC) - age).timestamp()
    os.utime(path, (moment, moment))
    return path


def names(folder: Path, pattern: str) -> list[str]:
    return sorted(path.name for path in folder.glob(pattern))


async def drafts(engine: AsyncEngine) -> dict[str, str | None]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(WorkOrder.call_uniqueid, WorkOrder.caller_number))
    return {uniqueid: caller for uniqueid, caller in rows}


async def test_unreported_recordings_are_taken_in_once_their_call_ended_or_they_are_old(
        engine: AsyncEngine, tmp_path: Path) -> None:
    taken: list[str] = []
    voicemail = ingester(engine, tmp_path, taken)
    now = datetime.now(UTC)
    await CallStore(engine).upsert([
        {"uniqueid": "1.1", "caller_number": "13800138001", "started_at": now, "ended_at": now, "outcome": "voicemail"},
        {"uniqueid": "1.2", "caller_number": "13800138002", "started_at": now, "outcome": "in_progress"},
    ])
    recorded(tmp_path, "1.1")  # its call has ended: complete
    recorded(tmp_path, "1.2")  # its call goes on: still recording
    recorded(tmp_path, "1.3")  # no call record, just written: maybe still recording
    recorded(tmp_path, "1.4", age=timedelta(minutes=10))  # no call record, untouched for longer than any recording
    assert await voicemail.scan() == 2
    assert await drafts(engine) == {"1.1": "13800138001", "1.4": None}
    assert names(tmp_path, "*.wav") == ["1.2.wav", "1.3.wav"], "moved to the archive"
    assert names(tmp_path / "archive", "*") == ["1.1.wav", "1.4.wav"]
    assert (tmp_path / "archive" / "1.1.wav").read_bytes() == b"RIFF....WAVE"
    assert await voicemail.scan() == 0, "taken in once"
    assert taken == ["taken", "taken"]

    await voicemail.reported("1.3", "13800138003")  # the hang-up handler's report wins over the wait
    assert (await drafts(engine))["1.3"] == "13800138003"


async def test_old_recordings_of_closed_orders_are_deleted_and_the_history_says_so(
        engine: AsyncEngine, tmp_path: Path) -> None:
    voicemail = ingester(engine, tmp_path, [])
    for uniqueid in ("2.1", "2.2", "2.3"):
        recorded(tmp_path, uniqueid)
        await voicemail.reported(uniqueid, "139")
    old, kept, recent = (tmp_path / "archive" / f"{uniqueid}.wav" for uniqueid in ("2.1", "2.2", "2.3"))
    long_ago = datetime.now(UTC) - timedelta(days=31)
    async with engine.begin() as connection:
        await connection.execute(update(WorkOrder).where(WorkOrder.call_uniqueid.in_(["2.1", "2.2"]))
                                 .values(created_at=long_ago))
        await connection.execute(update(WorkOrder).where(WorkOrder.call_uniqueid.in_(["2.1", "2.3"]))
                                 .values(status="closed"))
    assert await voicemail.expire(datetime.now(UTC)) == 1
    assert (old.exists(), kept.exists(), recent.exists()) == (False, True, True), "only 2.1 is closed and old"
    assert names(tmp_path, "*.wav") == [], "Asterisk's folder holds nothing taken in"
    async with engine.connect() as connection:
        order = (await connection.execute(select(WorkOrder).where(WorkOrder.call_uniqueid == "2.1"))).one()
        recordings = (await connection.execute(select(Attachment.order_id))).scalars().all()
        event = (await connection.execute(select(OrderEvent).where(OrderEvent.order_id == order.id)
                                          .order_by(OrderEvent.id.desc()).limit(1))).one()
    assert order.audio_path is None and order.id not in recordings
    assert (event.action, event.note) == ("recording_deleted", "retention: 30 days")
    assert await voicemail.expire(datetime.now(UTC)) == 0
