"""Live progress of campaigns for the page's event streams.

Whoever changes a campaign's numbers in this process (the dialer after a call or a reply, the routes after a
start or a pause) calls `CampaignProgress.changed(campaign_id)`: every stream watching that campaign reads it
again at once. A change made elsewhere (the CLI, another server) is seen within `fallback` seconds, when each
stream reads it anyway. A stream sends a snapshot only when it differs from the last one it sent (and again
after `keepalive` seconds, so that a closed page is noticed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ivr.background import Background
from ivr.db.models import Survey

logger = logging.getLogger(__name__)
Snapshot = dict[str, Any]


class CampaignProgress:
    def __init__(self, read: Callable[[int], Awaitable[Snapshot]], fallback: float = 1.0,
                 keepalive: float = 15.0) -> None:
        self._read = read
        self.fallback = fallback
        self.keepalive = keepalive
        self._watchers: dict[int, set[asyncio.Event]] = {}
        self._closed = False

    def changed(self, campaign_id: int | None = None) -> None:
        """The campaign's numbers or state changed (None: any campaign's): its streams read it now. Call it from
        the event loop; it never waits."""
        watching = self._watchers.values() if campaign_id is None else [self._watchers.get(campaign_id, set())]
        for events in watching:
            for event in events:
                event.set()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def watchers(self) -> int:
        return sum(len(events) for events in self._watchers.values())

    async def updates(self, campaign_id: int) -> AsyncGenerator[Snapshot, None]:
        """The campaign's snapshot now, then each time it changes, until close() (use with contextlib.aclosing)."""
        wake = asyncio.Event()
        self._watchers.setdefault(campaign_id, set()).add(wake)
        try:
            last: Snapshot | None = None
            sent_at = 0.0
            while not self._closed:
                wake.clear()
                snapshot = await self._read(campaign_id)
                if self.closed:
                    break
                if snapshot != last or time.monotonic() - sent_at >= self.keepalive:
                    last, sent_at = snapshot, time.monotonic()
                    yield snapshot
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.fallback)
        finally:
            events = self._watchers.get(campaign_id, set())
            events.discard(wake)
            if not events:
                self._watchers.pop(campaign_id, None)

    def close(self) -> None:
        """The server is stopping: every stream ends (they would hold the shutdown up)."""
        self._closed = True
        self.changed()


class CampaignFollower:
    """The survey dialer's listener (SurveyDialer.ended_listeners): when a number of a campaign is done with,
    the campaign finishes if none is left to ask, and its streams read it again at once."""

    def __init__(self, finish_if_done: Callable[[int, datetime], Awaitable[bool]], progress: CampaignProgress) -> None:
        self.finish_if_done = finish_if_done
        self.progress = progress
        self.background = Background("campaign bookkeeping", logger)

    def survey_ended(self, survey: Survey) -> None:
        if survey.campaign_id is not None:
            self.background.spawn(self._follow(survey.campaign_id))

    async def _follow(self, campaign_id: int) -> None:
        try:
            if await self.finish_if_done(campaign_id, datetime.now(UTC)):
                logger.info("campaign %d finished: no number is left to ask", campaign_id)
        finally:
            self.progress.changed(campaign_id)

    async def close(self) -> None:
        await self.background.close()
