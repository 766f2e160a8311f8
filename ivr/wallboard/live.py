"""The wallboard hub: keeps every open wallboard current, within a fraction of a second of each change.

What moves it:
- queue and seat events from AMI and each call's end (the call tracker's listener): the live part (callers
  waiting, seats by state) is read from memory, so a new snapshot is pushed at once;
- a call's end written to the database (the call writer's listener): today's figures are read again, then
  pushed; and every `reports.wallboard_refresh_seconds` anyway (orders change outside calls) while a screen
  is open;
- Asterisk announcing its shutdown, the AMI link going down (checked every second) and the queues read again
  after a reconnect: the screen says it is not live, then live again.

Bursts are coalesced: one push at most every `coalesce` seconds, and never later than that after a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ivr.ami import events
from ivr.ami.queue_state import QueueState
from ivr.calls.tracker import CallRecord, Row
from ivr.db.engine import DATABASE_ERRORS
from ivr.settings import Settings
from ivr.wallboard import snapshot
from ivr.wallboard.snapshot import DayFigures

logger = logging.getLogger(__name__)
ReadFigures = Callable[[datetime], Awaitable[DayFigures]]
KEEPALIVE = b": keepalive\n\n"  # an SSE comment: a closed page is noticed when writing it fails
CLOSED = b""  # told to every stream when the server stops
LINK_CHECK_SECONDS = 1.0


class Coalescer:
    """Calls `push` once for a burst of pokes, at most once every `interval` seconds, and never later than
    `interval` after a poke: the first poke after a quiet spell goes out on the loop's next turn (after every
    AMI sink has taken the event in), the pokes inside the interval go out together at its end."""

    def __init__(self, push: Callable[[], None], interval: float) -> None:
        self.push = push
        self.interval = interval
        self._last = float("-inf")
        self._due: asyncio.TimerHandle | None = None

    def poke(self) -> None:
        if self._due is not None:
            return  # the push already planned will carry this change too
        loop = asyncio.get_running_loop()
        self._due = loop.call_at(max(loop.time(), self._last + self.interval), self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = None
        self._last = loop.time()
        self.push()

    def cancel(self) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None


class WallboardHub:
    EVENTS = (events.QUEUE_CALLER_JOIN, events.QUEUE_CALLER_LEAVE, events.QUEUE_CALLER_ABANDON,
              events.AGENT_CONNECT, events.AGENT_COMPLETE, *sorted(events.SEAT_EVENTS), events.SHUTDOWN)

    def __init__(self, settings: Settings, queue_state: QueueState, link_up: Callable[[], bool],
                 live_calls: Mapping[str, CallRecord], read: ReadFigures, coalesce: float = 0.2,
                 keepalive: float = 15.0) -> None:
        self.queue_state = queue_state
        self.link_up = link_up
        self.live_calls = live_calls  # the tracker's calls in progress
        self.read = read
        self.seat_queue = settings.direct_queue  # every logged-in seat is in it once
        self.refresh_seconds = settings.reports.wallboard_refresh_seconds
        self.service_level_seconds = settings.queue.service_level_seconds
        self.hot_limit = settings.reports.hot_terms
        self.timezone = settings.timezone
        self.keepalive = keepalive
        self.figures: DayFigures | None = None
        self.figures_error: str | None = None
        self.pushes = 0
        self._read_at = float("-inf")  # loop time of the last read, done or failed
        self._first_seen: dict[str, datetime] = {}
        self._viewers: set[asyncio.Queue[bytes]] = set()
        self._coalescer = Coalescer(self._push, coalesce)
        self._reread = asyncio.Event()
        self._reading = asyncio.Lock()
        self._live_shown: bool | None = None
        self._asterisk_away = False  # from its Shutdown event until the queues are read again
        self._closed = False

    # What moves it

    def handle(self, name: str, _fields: Mapping[str, str]) -> None:
        """AMI sink for EVENTS: the queue state and the tracker (subscribed before) have taken the event in."""
        if name == events.SHUTDOWN:  # said at once: the link itself may take a moment to drop
            self._asterisk_away = True
        self._coalescer.poke()

    def call_finished(self, _record: CallRecord) -> None:
        """The tracker's listener: the call left the queue or the seat; its row is on its way to the database."""
        self._coalescer.poke()

    def call_written(self, row: Row) -> None:
        """The call writer's listener: once a call's end is in the database, today's figures are read again."""
        if row.get("ended_at") is not None:
            self._reread.set()

    async def queues_reread(self) -> None:
        """AMI's refresh listener: the queue state was read in full again (after a reconnect)."""
        self._asterisk_away = False
        self._coalescer.poke()

    # What it shows

    def snapshot(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        waiting = snapshot.waiting_ids(self.queue_state, self.live_calls)
        self._first_seen = {uniqueid: self._first_seen.get(uniqueid, now) for uniqueid in waiting}
        return snapshot.build(
            now=now, live_link=self._live_now(),
            waiting=snapshot.waiting_since(waiting, self.live_calls, self._first_seen),
            seats=snapshot.agents(self.queue_state.queues.get(self.seat_queue)),
            figures=self.figures, figures_error=self.figures_error, refresh_seconds=self.refresh_seconds,
            service_level_seconds=self.service_level_seconds, hot_limit=self.hot_limit, timezone=self.timezone)

    async def current(self) -> dict[str, Any]:
        """The snapshot for GET /api/wallboard: figures read now if no open screen keeps them fresh."""
        if self._age() >= self.refresh_seconds:
            await self.refresh()
        return self.snapshot()

    async def updates(self) -> AsyncGenerator[bytes, None]:
        """One screen's event stream: the snapshot now, then each push (a keep-alive comment when quiet), until
        close(). Only the latest push waits for a slow screen; the ones it missed are out of date anyway."""
        inbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        self._viewers.add(inbox)
        self._reread.set()  # a screen opened: today's figures as of now follow the first snapshot
        try:
            yield _event(self.snapshot())
            while not self._closed:
                try:
                    async with asyncio.timeout(self.keepalive):
                        data = await inbox.get()
                except TimeoutError:
                    data = KEEPALIVE
                if data == CLOSED:
                    return
                yield data
        finally:
            self._viewers.discard(inbox)

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def _push(self) -> None:
        if not self._viewers:
            return  # nobody to show it to: GET /api/wallboard builds its own
        shown = self.snapshot()
        self._live_shown = shown["live"]
        self.pushes += 1
        data = _event(shown)
        for inbox in self._viewers:
            _offer(inbox, data)

    # Today's figures

    async def run(self) -> None:
        """Reads today's figures when a call's end was written, or when they are `refresh_seconds` old, while a
        screen is open; looks at the AMI link every second."""
        while not self._closed:
            if not self._viewers:
                self._reread.clear()  # nobody to show it to; the next screen asks for a read when it opens
            elif self._reread.is_set() or self._age() >= self.refresh_seconds:
                self._reread.clear()
                await self.refresh()
                self._coalescer.poke()
            if self._live_shown is not None and self._live_shown != self._live_now():
                self._coalescer.poke()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LINK_CHECK_SECONDS):
                    await self._reread.wait()

    async def refresh(self) -> None:
        async with self._reading:
            self._read_at = asyncio.get_running_loop().time()
            try:
                self.figures = await self.read(datetime.now(UTC))
                self.figures_error = None
            except DATABASE_ERRORS as exc:  # the screen keeps the last figures, marked with their time
                self.figures_error = "database unavailable"
                logger.warning("wallboard: today's figures not read: database unavailable (%s)", exc)
            except Exception:  # a fault in a report query must not stop the live part of the screen
                self.figures_error = "figures not read"
                logger.exception("wallboard: today's figures not read")

    def _age(self) -> float:
        return asyncio.get_running_loop().time() - self._read_at

    def _live_now(self) -> bool:
        return self.link_up() and not self.queue_state.stale and not self._asterisk_away

    def close(self) -> None:
        """The server is stopping: every stream ends (they would hold the shutdown up)."""
        self._closed = True
        self._coalescer.cancel()
        self._reread.set()
        for inbox in self._viewers:
            _offer(inbox, CLOSED)


def _event(shown: dict[str, Any]) -> bytes:
    return f"event: snapshot\ndata: {json.dumps(shown, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def _offer(inbox: asyncio.Queue[bytes], data: bytes) -> None:
    """Replace what the stream has not sent yet: only the newest snapshot matters."""
    with contextlib.suppress(asyncio.QueueEmpty):
        inbox.get_nowait()
    inbox.put_nowait(data)
