"""Working the transcription backlog from the command line (`hotline transcribe`): the same durable jobs and
workers as the server's, run in `--workers` slots until no job is due, with a progress line on stderr.

A job is claimed under a lease held by the worker's name, so this can run beside a server (or on another
machine sharing its PostgreSQL database): the two never take the same job. Stopped mid-job (Ctrl-C), a job
keeps its claim until the lease runs out, then any worker claims it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.settings import Settings
from ivr.voicemail.speech_model import NoModel, find_model
from ivr.voicemail.store import VoicemailStore, policy_of
from ivr.voicemail.worker import Outcome, TranscriptionWorker
from ivr.workorders.directory import Directory
from routing import transcription_jobs as jobs

NO_MODEL = 3  # the exit code when there is no speech model to transcribe with
BAR_WIDTH = 20


@dataclass(frozen=True)
class Options:
    workers: int  # slots, and decoder processes
    worker_name: str  # the lease holder; several slots hold theirs as NAME-1 … NAME-N
    retry_failed: bool = False
    status: bool = False


@dataclass
class Progress:
    """The run so far, as reported after each job."""

    total: int  # jobs due when the run started (raised when more turn up)
    done: int = 0
    failed: int = 0  # failed for good (a corrupt file, the last attempt)
    retrying: int = 0  # the attempt failed; queued again after its back-off
    lost: int = 0  # another worker took the job over
    elapsed: float = 0.0  # seconds since the first claim
    last: Outcome | None = None

    @property
    def ended(self) -> int:
        return self.done + self.failed + self.retrying + self.lost

    @property
    def unsuccessful(self) -> int:
        return self.failed + self.retrying

    @property
    def seconds_each(self) -> float | None:
        return self.elapsed / self.ended if self.ended else None

    def count(self, outcome: Outcome) -> None:
        if outcome.state == jobs.DONE:
            self.done += 1
        elif outcome.state == jobs.FAILED:
            self.failed += 1
        elif outcome.state == jobs.QUEUED:
            self.retrying += 1
        else:
            self.lost += 1
        self.total = max(self.total, self.ended)
        self.last = outcome


def bar(progress: Progress, width: int = BAR_WIDTH) -> str:
    """`[#####.....] 12/40 done, 1 failed, 3.2 s/voicemail`"""
    filled = width if progress.total == 0 else min(width, width * progress.ended // progress.total)
    parts = [f"[{'#' * filled}{'.' * (width - filled)}] {progress.done}/{progress.total} done",
             f"{progress.failed} failed"]
    if progress.retrying:
        parts.append(f"{progress.retrying} to retry")
    if progress.lost:
        parts.append(f"{progress.lost} taken over")
    if progress.seconds_each is not None:
        parts.append(f"{progress.seconds_each:.1f} s/voicemail")
    return ", ".join(parts)


def describe(outcome: Outcome) -> str:
    what = {jobs.FAILED: "failed", jobs.QUEUED: "failed, retried later", "lost": "taken over by another worker"}
    return (f"voicemail order {outcome.job.order_id} (job {outcome.job.id}): "
            f"{what.get(outcome.state, outcome.state)}: {outcome.detail}")


class ProgressLine:
    """The bar on a stream: rewritten in place (`\\r`) on a terminal, one line per job otherwise; a job that did
    not succeed gets a line of its own with the reason."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._shown = 0  # width of the line now on a terminal

    def show(self, progress: Progress) -> None:
        text = bar(progress)
        outcome = progress.last
        failure = describe(outcome) if outcome is not None and outcome.state != jobs.DONE else None
        if self.tty:
            if failure:
                self._clear()
                self.stream.write(failure + "\n")
            self.stream.write("\r" + text.ljust(self._shown))
            self._shown = len(text)
        else:
            self.stream.write(text + (f" | {failure}" if failure else "") + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = 0

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self._shown = 0


def slot_names(name: str, slots: int) -> list[str]:
    return [name] if slots == 1 else [f"{name}-{index}" for index in range(1, slots + 1)]


async def work(worker: TranscriptionWorker, names: list[str], total: int, report: Callable[[Progress], None],
               clock: Callable[[], float] = time.monotonic) -> Progress:
    """One slot per name, each carrying jobs to their end until none is due; `report` is called once per job
    ended. A slot that raises (the database went away) stops the others, and its error is raised."""
    progress = Progress(total)
    started = clock()

    async def slot(name: str) -> None:
        while (outcome := await worker.run_one(name)) is not None:
            progress.elapsed = clock() - started
            progress.count(outcome)
            report(progress)

    tasks = [asyncio.create_task(slot(name), name=f"transcribe-{name}") for name in names]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return progress


def untranscribed(counts: dict[str, int]) -> str:
    waiting = counts[jobs.QUEUED] + counts[jobs.RUNNING] + counts[jobs.FAILED]
    return (f"{waiting} voicemail{' waits' if waiting == 1 else 's wait'} untranscribed "
            f"({counts[jobs.QUEUED]} queued, {counts[jobs.RUNNING]} running, {counts[jobs.FAILED]} failed)")


async def transcribe(settings: Settings, engine: AsyncEngine, options: Options, out: TextIO, err: TextIO) -> int:
    """`hotline transcribe`: 0 when the backlog is done, 1 when a job failed during the run, 3 without a model
    (`--status` prints the counts and the model, and needs none)."""
    settings = replace(settings, transcription=replace(settings.transcription, workers=options.workers))
    store = VoicemailStore(engine, policy_of(settings.transcription), settings.timezone)
    if options.status:
        return await _status(settings, store, engine, out)
    worker = TranscriptionWorker(settings, store, Directory(engine))
    try:
        with _quiet_worker_log(settings):
            return await _transcribe(store, worker, engine, options, err)
    finally:
        worker.close()


async def _status(settings: Settings, store: VoicemailStore, engine: AsyncEngine, out: TextIO) -> int:
    try:
        model = find_model(settings.transcription.model_path)
        print(f"speech model: {model.name} at {model.path} ({model.sample_rate} Hz)", file=out)
    except NoModel as exc:
        print(f"speech model: none: {exc}", file=out)
    counts = await store.counts()
    print(f"transcription jobs: {counts[jobs.QUEUED]} queued, {counts[jobs.RUNNING]} running, "
          f"{counts[jobs.DONE]} done, {counts[jobs.FAILED]} failed; {await store.due(datetime.now(UTC))} due now",
          file=out)
    print(untranscribed(counts), file=out)
    return 0


async def _transcribe(store: VoicemailStore, worker: TranscriptionWorker, engine: AsyncEngine, options: Options,
                      err: TextIO) -> int:
    pool = worker.ensure_pool()
    if pool is None:
        print(f"no speech model: nothing is transcribed.\n  {worker.problem}\n{untranscribed(await store.counts())}",
              file=err)
        return NO_MODEL
    if options.retry_failed:
        queued = await store.retry_failed(datetime.now(UTC))
        print(f"{queued} failed transcription{'' if queued == 1 else 's'} queued again", file=err)
    total = await store.due(datetime.now(UTC))
    if total == 0:
        print(f"no voicemail to transcribe now; {untranscribed(await store.counts())}", file=err)
        return 0
    print(f"transcribing {total} voicemail{'' if total == 1 else 's'} with {pool.model.name} "
          f"({pool.model.sample_rate} Hz) in {pool.processes} process{'' if pool.processes == 1 else 'es'}",
          file=err, flush=True)
    try:
        await pool.warm()
    except Exception as exc:  # a model that does not load: the same exit as none at all
        print(f"no speech model: the one at {pool.model.path} did not load ({type(exc).__name__}: {exc})",
              file=err)
        return NO_MODEL
    line = ProgressLine(err)
    try:
        progress = await work(worker, slot_names(options.worker_name, options.workers), total, line.show)
    finally:
        line.close()
    seconds = f", {progress.seconds_each:.1f} s/voicemail" if progress.seconds_each is not None else ""
    print(f"{progress.done} transcribed, {progress.failed} failed, {progress.retrying} to retry later, "
          f"{progress.lost} taken over{seconds}; {untranscribed(await store.counts())}", file=err)
    return 1 if progress.unsuccessful else 0


@contextlib.contextmanager
def _quiet_worker_log(settings: Settings) -> Iterator[None]:
    """The worker logs each job, and a missing model, which the progress line and this command's own messages
    already say (and a log line would break the line on a terminal); all kept when the log level is DEBUG."""
    logger = logging.getLogger("ivr.voicemail.worker")
    level = logger.level
    if settings.log_level != "DEBUG":
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
