"""Work started from synchronous callbacks (AMI event sinks): kept referenced, failures logged, cancelled
on shutdown. (A task nobody holds can be garbage-collected mid-flight; panoramisk's dispatch does that.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any


class Background:
    def __init__(self, what: str, logger: logging.Logger) -> None:
        self.what = what
        self.logger = logger
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.logger.error("%s failed: %r", self.what, task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def finish(self, timeout: float) -> None:
        """Lets the work in progress end (for at most `timeout` seconds), then cancels what is left."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        await self.close()
