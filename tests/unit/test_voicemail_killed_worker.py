"""A transcription worker (`hotline transcribe`, with its decoder process) killed with SIGKILL in the middle of a
voicemail: its lease runs out, another worker claims the job again and finishes it, once: one transcript."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select

from ivr.db.engine import create_engine, upgrade
from ivr.db.models import Transcript, TranscriptionJob, as_utc
from ivr.settings import load_settings
from ivr.voicemail.audio import read_wav
from ivr.voicemail.store import Recording, VoicemailStore, policy_of
from ivr.voicemail.worker import Outcome, TranscriptionWorker
from ivr.workorders.directory import Directory

FIXTURE = Path(__file__).parents[1] / "fixtures" / "voicemail_ko.wav"
LEASE_SECONDS = 3.0


def long_voicemail(path: Path, times: int = 6) -> None:
    """The fixture six times over (about a minute): long enough to be killed in the middle of."""
    import wave

    audio = read_wav(FIXTURE)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(audio.rate)
        handle.writeframes(np.tile(audio.samples, times).tobytes())


async def job_row(store: VoicemailStore) -> TranscriptionJob:
    async with store.engine.connect() as connection:
        row = (await connection.execute(select(TranscriptionJob))).one()
    return TranscriptionJob(**row._asdict())


async def renewed_by(store: VoicemailStore, worker: str, timeout: float = 90) -> None:
    """Until `worker` holds the job and has renewed its lease once: it is decoding (polled: the worker is
    another process, and the database is where its progress shows)."""
    first_lease = None
    async with asyncio.timeout(timeout):
        while True:
            job = await job_row(store)
            if job.state == "running" and job.worker == worker and job.lease_until is not None:
                lease = as_utc(job.lease_until)
                if first_lease is None:
                    first_lease = lease
                elif lease > first_lease:
                    return
            await asyncio.sleep(0.1)


async def test_a_worker_killed_mid_job_leaves_a_job_finished_once_by_another(database_url: str,
                                                                             tmp_path: Path) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    settings = load_settings(environ={"HOTLINE_DATA_DIR": str(tmp_path / "data")})
    settings = dataclasses.replace(settings, database_url=database_url, transcription=dataclasses.replace(
        settings.transcription, lease_seconds=LEASE_SECONDS, poll_seconds=0.2))
    store = VoicemailStore(engine, policy_of(settings.transcription))
    long_voicemail(tmp_path / "9.1.wav")
    await store.take_in(Recording("9.1", "13800138000", tmp_path / "9.1.wav", datetime.now(UTC)), datetime.now(UTC))

    hotline = Path(sys.executable).with_name("hotline")
    doomed = await asyncio.create_subprocess_exec(
        str(hotline), "--set", f"data_dir={tmp_path / 'data'}", "--set", f"database_url={database_url}",
        "--set", f"transcription.lease_seconds={LEASE_SECONDS}", "transcribe", "--workers", "1",
        "--worker-name", "doomed",
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        await renewed_by(store, "doomed")
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its decoder process, with no chance to clean up
        await doomed.wait()
    assert (await job_row(store)).state == "running", "killed in the middle of the job"

    survivor = TranscriptionWorker(settings, store, Directory(engine))
    outcomes: list[Outcome] = []
    try:
        async with asyncio.timeout(120):
            while not outcomes:
                outcome = await survivor.run_one("survivor")
                if outcome is None:
                    await asyncio.sleep(0.5)  # the dead worker's lease has not run out yet
                else:
                    outcomes.append(outcome)
        assert await survivor.run_one("survivor") is None, "nothing left to do"
    finally:
        survivor.close()
    assert outcomes[0].state == "done" and outcomes[0].job.attempts == 2, outcomes
    job = await job_row(store)
    async with engine.connect() as connection:
        transcripts = (await connection.execute(select(Transcript.worker, Transcript.audio_seconds))).all()
    await engine.dispose()
    assert (job.state, job.attempts, job.worker) == ("done", 2, "survivor")
    assert [(worker, round(seconds)) for worker, seconds in transcripts] == [("survivor", 65)]
