"""Seat events the database has not taken yet: kept in order, in memory and in a spool file (a server restarted
during an outage keeps them), and written, oldest first, once the database is back.

Writing an event twice is harmless (AgentStore.record skips one already there), so a write cut off after its
insert is simply done again."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from datetime import datetime
from pathlib import Path

from ivr.agents.store import AgentStore
from ivr.db.engine import DATABASE_ERRORS
from routing.seats import SeatEvent

logger = logging.getLogger(__name__)
RETRY_SECONDS = 1.0  # how often what waits is tried again while the database is away


class SeatOutbox:
    def __init__(self, store: AgentStore, spool: Path) -> None:
        self.store = store
        self.spool = spool
        self.events: deque[SeatEvent] = deque()
        self.empty = asyncio.Event()  # set while nothing waits for the database
        self.empty.set()
        self._writing = asyncio.Lock()
        self._held = False  # a write failed since the last one that worked

    def load(self) -> None:
        """The events a server that stopped during an outage left in the spool."""
        if not self.spool.exists():
            return
        for number, line in enumerate(self.spool.read_text(encoding="utf-8").splitlines(), 1):
            try:
                fields = json.loads(line)
                self.events.append(SeatEvent(fields["agent_id"], fields["seat"], fields["kind"], fields["reason"],
                                             datetime.fromisoformat(fields["at"])))
            except (ValueError, KeyError, TypeError) as exc:
                logger.error("%s line %d is not a seat event, left out: %s", self.spool, number, exc)
        if self.events:
            self.empty.clear()
            logger.info("%d seat change(s) from before the restart wait for the database", len(self.events))

    def add(self, event: SeatEvent) -> None:
        self.events.append(event)
        self.empty.clear()
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with self.spool.open("a", encoding="utf-8") as spool:
            spool.write(json.dumps({"agent_id": event.agent_id, "seat": event.seat, "kind": event.kind,
                                    "reason": event.reason, "at": event.at.isoformat()}) + "\n")

    async def write(self) -> None:
        """Write what waits, oldest first; raises one of DATABASE_ERRORS while the database is away."""
        async with self._writing:
            count = len(self.events)
            try:
                while self.events:
                    await self.store.record(self.events[0])
                    self.events.popleft()
            except DATABASE_ERRORS:
                self._held = True
                raise
            self.spool.unlink(missing_ok=True)
            self.empty.set()
            if self._held:
                self._held = False
                logger.info("the database is back: %d seat change(s) made while it was away written", count)

    async def keep_writing(self, every: float = RETRY_SECONDS) -> None:
        """Runs until cancelled: what waits is written as soon as the database takes it."""
        while True:
            await asyncio.sleep(every)  # the database coming back sends no event
            try:
                await self.write()
            except DATABASE_ERRORS as exc:
                logger.debug("seat changes still wait for the database: %s", exc)
