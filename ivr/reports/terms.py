"""Keeps work_orders.terms filled: each order's hot-topic terms (routing.hot_topics), segmented once with jieba
off the event loop, so that a report counts terms in SQL instead of segmenting a month of text again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.engine import DATABASE_ERRORS
from ivr.db.models import CatalogueEntry, WorkOrder
from routing import hot_topics
from routing.lifecycle import DRAFT

logger = logging.getLogger(__name__)
BATCH = 500


class TermIndexer:
    def __init__(self, engine: AsyncEngine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.index_batch() == BATCH:
                    pass
            except DATABASE_ERRORS as exc:
                logger.warning("hot-topic terms: database unavailable, trying again (%s)", exc)
            except Exception:  # a worker that dies silently leaves the hot topics stale: log and go on
                logger.exception("hot-topic terms: indexing failed, trying again in %g s", self.interval)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass

    async def index_batch(self) -> int:
        """Segments up to BATCH orders that have no terms yet (drafts wait until accepted); returns how many."""
        pending = (select(WorkOrder.id, WorkOrder.content).where(WorkOrder.terms.is_(None), WorkOrder.status != DRAFT)
                   .order_by(WorkOrder.id).limit(BATCH))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(pending)).all()
            keywords = (await connection.execute(select(CatalogueEntry.keywords))).scalars().all() if rows else []
        if not rows:
            return 0
        words = [word.strip() for line in keywords for word in (line or "").split(",") if word.strip()]
        texts = [content or "" for _, content in rows]
        found = await asyncio.get_running_loop().run_in_executor(None, _segment, texts, words)
        # Only if the text is still the one segmented: an edit meanwhile leaves the order for the next batch.
        write = update(WorkOrder).where(WorkOrder.id == bindparam("order_id"), WorkOrder.terms.is_(None),
                                        func.coalesce(WorkOrder.content, "") == bindparam("text"))
        async with self.engine.begin() as connection:
            await connection.execute(write.values(terms=bindparam("found")),
                                     [{"order_id": order_id, "text": text, "found": " ".join(terms)}
                                      for (order_id, _), text, terms in zip(rows, texts, found, strict=True)])
        return len(rows)


def _segment(texts: Sequence[str], words: Sequence[str]) -> list[list[str]]:
    return [hot_topics.terms(text, words) for text in texts]
