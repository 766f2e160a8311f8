"""The search index kept in step with the knowledge_entries table.

Built from the table when the server starts (`warm`) or at first use, the CPU part in a thread when the base
is large. This process's writes, through the store, are put into it at once. Another process's (a second
server, `hotline knowledge import`) are caught by a check of the table's (count, latest updated_at) that a
search starts in the background when the last one is `recheck_seconds` old: the check reads the whole table
(updated_at has no index; 8–10 ms at 20,000 entries, docs/benchmarks.md), so no search waits for it. The
rows updated since the last check (less a margin for servers' clocks apart) are then read again and put
into the index; a count that still differs (a row written with an older time) rebuilds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import KnowledgeEntry, as_utc
from ivr.knowledge.index import KnowledgeIndex

logger = logging.getLogger(__name__)

RECHECK_SECONDS = 5.0  # the check reads the whole table: another process's change shows within seconds
CLOCK_MARGIN = timedelta(minutes=5)
REBUILD_FROM = 50  # changed rows: each put takes ~0.4 ms on the event loop; more are rebuilt in a thread
THREAD_FROM = 100  # rows: a build of fewer (~0.15 ms each) is done on the event loop
INDEXED = (KnowledgeEntry.id, KnowledgeEntry.title, KnowledgeEntry.keywords, KnowledgeEntry.body,
           KnowledgeEntry.topic, KnowledgeEntry.effective_on, KnowledgeEntry.active, KnowledgeEntry.updated_at)


@dataclass(frozen=True)
class Signature:
    count: int
    latest: datetime | None


class LiveIndex:
    def __init__(self, engine: AsyncEngine, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self._engine = engine
        self._recheck_seconds = recheck_seconds
        self._index: KnowledgeIndex | None = None
        self._seen = Signature(0, None)  # the table as of the last build or check
        self._updated: dict[int, datetime] = {}  # each entry's updated_at as indexed: no older row replaces it
        self._checked_at = 0.0
        self._building = asyncio.Lock()
        self._check: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None

    async def current(self) -> KnowledgeIndex:
        """The index, built on first use; starts a check of the table in the background when one is due."""
        if self._index is None:
            async with self._building:
                if self._index is None:
                    await self._build()
        elif self._check is None and time.monotonic() - self._checked_at >= self._recheck_seconds:
            self._check = asyncio.create_task(self._recheck(), name="knowledge-index-check")
        assert self._index is not None
        return self._index

    def warm(self) -> None:
        """Starts the build now (a server starting), so that the first search need not wait for it."""
        if self._index is None and self._warming is None:
            self._warming = asyncio.create_task(self._warm(), name="knowledge-index-build")

    async def _warm(self) -> None:
        try:
            await self.current()
        except (SQLAlchemyError, OSError) as exc:  # the first search builds it then
            logger.warning("knowledge index not built at start: %s", exc)

    async def wrote(self, entry_ids: Sequence[int]) -> None:
        """This process changed these entries: they are read back and put into the index (if it is built)."""
        async with self._building:  # a build in progress may have read the rows before the change
            if self._index is None or not entry_ids:
                return
            if len(entry_ids) >= REBUILD_FROM:
                await self._build()
            else:
                self._apply(await self._rows(KnowledgeEntry.id.in_(entry_ids)))

    async def settled(self) -> None:
        """Waits for the build or the check in progress, if any."""
        for task in (self._warming, self._check):
            if task is not None:
                await asyncio.shield(task)

    async def close(self) -> None:
        for task in (self._warming, self._check):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _recheck(self) -> None:
        try:
            signature = await self.signature()
            if signature != self._seen:
                async with self._building:
                    await self._catch_up(signature)
        except (SQLAlchemyError, OSError) as exc:  # the database away: search on with what is indexed
            logger.warning("knowledge index check failed: %s", exc)
        finally:
            self._checked_at = time.monotonic()
            self._check = None

    async def _catch_up(self, signature: Signature) -> None:
        since = self._seen.latest - CLOCK_MARGIN if self._seen.latest else None
        rows = await self._rows(KnowledgeEntry.updated_at >= since if since else true())
        if len(rows) >= REBUILD_FROM:
            await self._build()
            return
        self._apply(rows)
        if self._index is not None and len(self._index) != signature.count:
            await self._build()
            return
        self._seen = signature

    async def _build(self) -> None:
        signature = await self.signature()  # before the rows: a change in between shows at the next check
        rows = await self._rows(true())
        self._index = await asyncio.to_thread(KnowledgeIndex, rows) if len(rows) >= THREAD_FROM \
            else KnowledgeIndex(rows)
        self._updated = {row.id: as_utc(row.updated_at) for row in rows}
        self._seen, self._checked_at = signature, time.monotonic()

    def _apply(self, rows: Sequence[Any]) -> None:
        assert self._index is not None
        for row in rows:
            updated_at = as_utc(row.updated_at)
            if row.id in self._updated and updated_at < self._updated[row.id]:
                continue  # read before this process's own later change to it
            self._index.put(row)
            self._updated[row.id] = updated_at

    async def signature(self) -> Signature:
        statement = select(func.count(), func.max(KnowledgeEntry.updated_at))
        async with self._engine.connect() as connection:
            count, latest = (await connection.execute(statement)).one()
        return Signature(int(count), as_utc(latest) if latest else None)

    async def _rows(self, condition: ColumnElement[bool]) -> Sequence[Any]:
        async with self._engine.connect() as connection:
            return (await connection.execute(select(*INDEXED).where(condition))).all()
