"""The Open311 POST rate limit: fixed windows counted in the database, so that every server behind the same
address counts the same posts. One row per client or address and window; ended windows are deleted as posts come.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.engine import upsert_insert
from ivr.db.models import Open311Posts
from ivr.open311.errors import TooManyPosts
from ivr.settings import Open311Settings

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class PostLimit:
    def __init__(self, engine: AsyncEngine, settings: Open311Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._insert = upsert_insert(engine)

    async def by_address(self, address: str | None, now: datetime) -> None:
        """Every POST from the address, with a key or without (a key guesser is counted too)."""
        await self._count(f"address:{address or 'unknown'}", self.settings.posts_per_address, "this address", now)

    async def by_client(self, client: str, now: datetime) -> None:
        await self._count(f"client:{client}", self.settings.posts_per_client, f"client {client}", now)

    async def _count(self, bucket: str, limit: int, who: str, now: datetime) -> None:
        """One more post in the bucket's window; TooManyPosts once the window holds more than `limit`."""
        window = timedelta(seconds=self.settings.window_seconds)
        start = EPOCH + (now.astimezone(UTC) - EPOCH) // window * window
        statement = self._insert(Open311Posts).values(bucket=bucket[:100], window_start=start, posts=1)
        statement = statement.on_conflict_do_update(
            index_elements=["bucket", "window_start"], set_={"posts": Open311Posts.posts + 1}
        ).returning(Open311Posts.posts)
        async with self.engine.begin() as connection:
            await connection.execute(delete(Open311Posts).where(Open311Posts.window_start < start))
            posts = int((await connection.execute(statement)).scalar_one())
        if posts > limit:
            wait = max(1, math.ceil((start + window - now).total_seconds()))
            raise TooManyPosts(f"{who} made more than {limit} POSTs in {self.settings.window_seconds} s, the most "
                               f"allowed: try again in {wait} s", retry_after=str(wait))
