"""Taking voicemail in: the recording on disk is the truth, the draft work order follows it.

Asterisk records into its own folder (in the sandbox, inside the chroot, which a fresh instance empties); a
recording taken in is moved to `<data_dir>/voicemail`, the archive the orders point to, and only then removed
from Asterisk's folder.

The hang-up handler reports each recording at once. When that report cannot be written (the database is away)
or never comes (the FastAGI server was down), the recording stays on disk and the folder scan takes it in:
once its call's record shows the call ended, or, with no record, once it is older than the longest recording.
So a voicemail is never lost, and taken in once (the draft is unique per call).

The same loop applies the retention setting: recordings of orders no longer open are deleted after
voicemail.retention_days, with an entry in the order's history.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ivr.calls.store import CallStore
from ivr.db.engine import DATABASE_ERRORS
from ivr.settings import VoicemailSettings
from ivr.voicemail.store import Recording, VoicemailStore

logger = logging.getLogger(__name__)
SETTLE = timedelta(seconds=60)  # beyond the longest recording, before a file with no call record is taken in
# Retention is in days: looking once an hour is enough, and spares the orders table a query every scan.
RETENTION_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Report:
    caller: str | None
    at: datetime


class VoicemailIngester:
    def __init__(self, store: VoicemailStore, calls: CallStore, folder: Path, archive: Path,
                 settings: VoicemailSettings, taken_in: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.calls = calls
        self.folder = folder  # where Asterisk records
        self.archive = archive  # where recordings are kept once taken in
        self.settings = settings
        self.taken_in = taken_in
        self.waiting: dict[str, Report] = {}  # reported by the hang-up handler, not yet written
        self.kept_listeners: list[Callable[[str], None]] = []  # told of each recording kept for the database
        self.last_error: str | None = None
        self._expired_at: datetime | None = None  # the last retention pass
        self._wake = asyncio.Event()

    async def reported(self, uniqueid: str, caller: str | None) -> int | None:
        """The hang-up handler's report; the draft's id, or None when it waits for the database."""
        self.waiting[uniqueid] = Report(caller, datetime.now(UTC))
        return await self._take_in(uniqueid)

    async def _take_in(self, uniqueid: str) -> int | None:
        report = self.waiting[uniqueid]
        recorded, archived = self.folder / f"{uniqueid}.wav", self.archive / f"{uniqueid}.wav"
        try:
            if await asyncio.to_thread(recorded.exists):
                await asyncio.to_thread(_copy_durably, recorded, archived)
            order_id = await self.store.take_in(Recording(uniqueid, report.caller, archived, report.at),
                                                datetime.now(UTC))
        except DATABASE_ERRORS as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("[%s] voicemail kept on disk until the database is back: %s", uniqueid,
                           type(exc).__name__)
            for listener in self.kept_listeners:
                listener(uniqueid)
            self._wake.set()
            return None
        await asyncio.to_thread(recorded.unlink, missing_ok=True)
        del self.waiting[uniqueid]
        self.last_error = None
        self.taken_in()
        return order_id

    async def run(self) -> None:
        """Scans the folder now and every voicemail.scan_seconds; a report waiting for the database is tried
        again every second."""
        while True:
            try:
                await self.scan()
                now = datetime.now(UTC)
                if self._expired_at is None or now - self._expired_at >= RETENTION_EVERY:
                    await self.expire(now)
                    self._expired_at = now
            except DATABASE_ERRORS as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("voicemail scan: database unavailable (%s)", type(exc).__name__)
            self._wake.clear()
            delay = 1.0 if self.waiting or self.last_error else self.settings.scan_seconds
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def scan(self) -> int:
        """Takes in the recordings on disk that are not drafts yet; returns how many."""
        files = await asyncio.to_thread(_recordings, self.folder)
        known = await self.store.taken_in(list(files))
        count = 0
        for uniqueid, modified in files.items():
            if uniqueid in known:  # taken in, but the server stopped before it removed Asterisk's copy
                self.waiting.pop(uniqueid, None)
                if await asyncio.to_thread((self.archive / f"{uniqueid}.wav").exists):
                    await asyncio.to_thread((self.folder / f"{uniqueid}.wav").unlink, missing_ok=True)
                continue
            if uniqueid not in self.waiting and not await self._finished(uniqueid, modified):
                continue
            if await self._take_in(uniqueid) is not None:
                count += 1
        return count

    async def _finished(self, uniqueid: str, modified: datetime) -> bool:
        """A recording nobody reported is complete once its call ended (the caller's number is then known), or
        when it has not grown for longer than the longest recording."""
        call = await self.calls.get(uniqueid)
        if call is not None and call.ended_at is not None:
            self.waiting[uniqueid] = Report(call.caller_number, modified)
            return True
        if datetime.now(UTC) - modified > timedelta(seconds=self.settings.max_seconds) + SETTLE:
            self.waiting[uniqueid] = Report(call.caller_number if call else None, modified)
            return True
        return False

    async def expire(self, now: datetime) -> int:
        """Deletes the recordings past retention of orders no longer open; returns how many."""
        expired = await self.store.expired_recordings(now - timedelta(days=self.settings.retention_days))
        for order_id, path in expired:
            await asyncio.to_thread(Path(path).unlink, missing_ok=True)
            await self.store.forget_recording(order_id, now, self.settings.retention_days)
        return len(expired)


def _copy_durably(source: Path, target: Path) -> None:
    """The recording in the archive, whole and on disk, before anything points at it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    shutil.copyfile(source, partial)
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)


def _recordings(folder: Path) -> dict[str, datetime]:
    """The recordings in the folder by call unique id, with when each was last written."""
    if not folder.is_dir():
        return {}
    return {path.stem: datetime.fromtimestamp(path.stat().st_mtime, UTC) for path in folder.glob("*.wav")}
