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
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

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
    def watchers(self) -> int:
        return sum(len(events) for events in self._watchers.values())

    async def updates(self, campaign_id: int) -> AsyncIterator[Snapshot]:
        """The campaign's snapshot now, then each time it changes, until close() (use with contextlib.aclosing)."""
        wake = asyncio.Event()
        self._watchers.setdefault(campaign_id, set()).add(wake)
        try:
            last: Snapshot | None = None
            sent_at = 0.0
            while not self._closed:
                wake.clear()
                snapshot = await self._read(campaign_id)
                if self._closed:
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
