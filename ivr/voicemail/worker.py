"""Transcription workers: claim a job, decode it in a process of the pool (the model loaded once per process),
renew the claim while it decodes, store the transcript. A server runs `transcription.workers` of them; so does
`hotline transcribe`, on this machine or another one sharing the PostgreSQL database.

Without a model nothing is claimed: the voicemails wait, untranscribed, and the worker looks for a model again
at every poll, so installing one is enough to start the backlog.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ivr.settings import Settings
from ivr.voicemail import decoder
from ivr.voicemail.analysis import findings
from ivr.voicemail.audio import BadAudio
from ivr.voicemail.speech_model import NoModel, SpeechModel, deterministic_view, find_model
from ivr.voicemail.store import Claimed, VoicemailStore
from ivr.workorders.directory import Directory
from routing.catalogue import Entry
from routing.transcription_jobs import NotClaimable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    job: Claimed
    state: str  # done, queued (retry), failed, lost (another worker took it over)
    detail: str = ""


class DecoderPool:
    """The decoder processes (spawned, not forked: the server has threads), rebuilt when one of them dies."""

    def __init__(self, model: SpeechModel, cache_dir: Path, processes: int) -> None:
        self.model = model
        self.view = deterministic_view(model, cache_dir)
        self.processes = processes
        self._executor = self._new()

    def _new(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=decoder.start_process,
            initargs=(str(self.view), self.model.sample_rate))

    async def warm(self) -> None:
        """Every process started and its model loaded, before the first voicemail needs it."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, decoder.warm_up) for _ in range(self.processes)))

    async def transcribe(self, path: str, catalogue: list[Entry], split_seconds: float) -> tuple[
            decoder.Decoded, dict[str, Any]]:
        """The transcript and the findings; a long voicemail cut at its pauses into pieces decoded at once by
        the pool's processes (one voicemail is decoded sooner; a busy pool just queues the pieces)."""
        loop = asyncio.get_running_loop()
        try:
            rate, cuts = await asyncio.to_thread(decoder.plan, Path(path), self.processes, split_seconds)
            if not cuts:
                return await loop.run_in_executor(self._executor, decoder.transcribe_in_process, path, catalogue)
            started = time.perf_counter()
            bounds = list(zip([0, *cuts], [*cuts, None], strict=True))
            parts = await asyncio.gather(*(loop.run_in_executor(
                self._executor, decoder.decode_part_in_process, path, start, end) for start, end in bounds))
            decoded = decoder.merged([(start / rate, part) for (start, _end), part in zip(bounds, parts, strict=True)],
                                     time.perf_counter() - started)
            found = await loop.run_in_executor(self._executor, findings, decoded.text, catalogue)
            return decoded, found
        except BrokenProcessPool:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new()
            raise

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class TranscriptionWorker:
    def __init__(self, settings: Settings, store: VoicemailStore, directory: Directory,
                 on_change: Callable[[], None] | None = None) -> None:
        self.settings = settings.transcription
        self.cache_dir = settings.data_dir / "cache"
        self.store = store
        self.directory = directory
        self.on_change = on_change or (lambda: None)
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self.pool: DecoderPool | None = None
        self.problem: str | None = None  # why nothing is transcribed now (no model), for the desk and healthz
        self.finished_listeners: list[Callable[[Outcome], None]] = []  # told of each job's outcome
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A voicemail was taken in: look for it now rather than at the next poll."""
        self._wake.set()

    def ensure_pool(self) -> DecoderPool | None:
        if self.pool is None:
            try:
                model = find_model(self.settings.model_path)
            except NoModel as exc:
                if self.problem != str(exc):
                    logger.warning("voicemails wait untranscribed: %s", exc)
                self.problem = str(exc)
                return None
            self.pool = DecoderPool(model, self.cache_dir, self.settings.workers)
            self.problem = None
            logger.info("speech model %s (%d Hz) in %d decoder process(es)", model.path, model.sample_rate,
                        self.settings.workers)
        return self.pool

    async def run(self) -> None:
        pool = self.ensure_pool()
        if pool is not None and self.settings.preload:
            try:
                await pool.warm()
            except Exception as exc:  # a model that does not load: shown, and tried again at the next poll
                self.problem = f"the speech model at {pool.model.path} did not load: {type(exc).__name__}: {exc}"
                logger.error("%s", self.problem)
                pool.close()
                self.pool = None
        await asyncio.gather(*(self._slot(index) for index in range(self.settings.workers)))

    async def _slot(self, index: int) -> None:
        while True:
            outcome = None
            try:
                outcome = await self.run_one(f"{self.name}-{index}")
            except SQLAlchemyError as exc:
                logger.warning("transcription worker: database unavailable (%s); trying again", type(exc).__name__)
            except OSError as exc:  # the database's connection, the model's files or the cache folder
                logger.warning("transcription worker: %s: %s; trying again", type(exc).__name__, exc)
            if outcome is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.poll_seconds):
                        await self._wake.wait()

    async def run_one(self, worker: str) -> Outcome | None:
        """Claim one job and carry it to its end; None when there is no model or no job due."""
        pool = self.ensure_pool()
        if pool is None:
            return None
        job = await self.store.claim(worker, datetime.now(UTC))
        if job is None:
            return None
        self.on_change()
        try:
            outcome = await self._transcribe(pool, job, worker)
        finally:
            self.on_change()
        logger.info("[voicemail order %s] transcription job %s: %s %s", job.order_id, job.id, outcome.state,
                    outcome.detail)
        for listener in self.finished_listeners:
            listener(outcome)
        return outcome

    async def _transcribe(self, pool: DecoderPool, job: Claimed, worker: str) -> Outcome:
        catalogue = await self.directory.catalogue()
        decoding = asyncio.ensure_future(pool.transcribe(job.audio_path, catalogue, self.settings.split_seconds))
        try:
            await self._renew_until_done(decoding, job, worker)
            decoded, found = await decoding
        except NotClaimable as exc:
            return Outcome(job, "lost", str(exc))
        except BadAudio as exc:
            return await self._failed(job, worker, str(exc), retryable=False)
        except BrokenProcessPool:
            return await self._failed(job, worker, "the decoder process stopped during this voicemail")
        except SQLAlchemyError:
            raise  # the database, not the voicemail: the lease runs out and the job is claimed again
        except Exception as exc:  # any other decoder error is retried, and shown if it persists
            return await self._failed(job, worker, f"{type(exc).__name__}: {exc}")
        finally:
            decoding.cancel()
        try:
            await self.store.succeed(job.id, worker, decoded, found, pool.model.name, datetime.now(UTC))
        except NotClaimable as exc:
            return Outcome(job, "lost", str(exc))
        return Outcome(job, "done", f"{decoded.audio_seconds:.1f} s decoded in {decoded.decode_seconds:.1f} s")

    async def _renew_until_done(self, decoding: asyncio.Future[Any], job: Claimed, worker: str) -> None:
        interval = self.settings.lease_seconds / 3
        while True:
            done, _ = await asyncio.wait({decoding}, timeout=interval)
            if done:
                return
            await self.store.renew(job.id, worker, datetime.now(UTC))

    async def _failed(self, job: Claimed, worker: str, reason: str, retryable: bool = True) -> Outcome:
        try:
            state = await self.store.fail(job.id, worker, reason, datetime.now(UTC), retryable)
        except NotClaimable as exc:
            return Outcome(job, "lost", str(exc))
        return Outcome(job, state, reason)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
