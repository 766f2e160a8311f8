"""AMI client on panoramisk: reconnects on its own, re-reads queue state once Asterisk is fully booted after
every login, and puts a timeout on every action (panoramisk's futures can otherwise wait forever)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from ivr.ami import events
from ivr.ami.errors import AmiActionFailed, AmiActionTimeout, AmiNotConnected
from ivr.ami.queue_state import QueueState
from ivr.background import Background
from ivr.settings import AmiSettings

logger = logging.getLogger(__name__)
# After a login, the wait for FullyBooted before the queues are read anyway (an Asterisk that sent none), and the
# pause between re-reads that failed (app_queue still loading, an action timed out).
BOOT_WAIT_SECONDS = 10.0
REREAD_RETRY_SECONDS = 0.5
EventSink = Callable[[str, Mapping[str, str]], None]
MESSAGE_END = "\r\n\r\n"


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager, but one that stays down once closed (no reconnect scheduled after close)."""

    stopped = False
    event_received: Callable[[Mapping[str, str]], None]

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.stopped:
            return None
        return super().connect(*args, **kwargs)


class _EventProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol, but an event goes as a plain dict straight to the manager's `event_received`.

    panoramisk builds a case-insensitive Message header by header and matches each event's name against
    every registered pattern: most of our AMI cost with 200 calls. Replies, events that carry an ActionID
    (a listing's, OriginateResponse: they may answer an action) and Shutdown (it drops the connection)
    still go panoramisk's way. Headers keep Asterisk's spelling (our sinks use it); a repeated header keeps
    its last value.
    """

    def data_received(self, data: bytes) -> None:
        if self.version is None:  # the banner, which panoramisk reads the version from
            super().data_received(data)
            return
        text = data.decode(getattr(self, "encoding", "ascii"), "ignore")
        if self.queue:
            text = self.queue.popleft() + text
        messages = text.split(MESSAGE_END)
        self.queue.append(messages.pop())
        for message in messages:
            self._received(message.strip())

    def _received(self, message: str) -> None:
        if message.startswith("Event: ") and "\r\nActionID: " not in message:
            fields = dict(line.split(": ", 1) for line in message.split("\r\n") if ": " in line)
            if fields["Event"] != events.SHUTDOWN:
                self.factory.event_received(fields)
                return
        parsed = Message.from_line(message)
        if parsed is not None:
            self.handle_message(parsed)


class AmiClient:
    def __init__(self, settings: AmiSettings, password: str, queue_state: QueueState) -> None:
        self.settings = settings
        self.password = password
        self.queue_state = queue_state
        self.sinks: list[EventSink] = []  # those that take every event
        self._sinks_by_event: dict[str, list[EventSink]] = {}
        self.subscribe(queue_state.handle, queue_state.EVENTS)
        self.subscribe(self._fully_booted, [events.FULLY_BOOTED])
        # Called after every full re-read of the queues, before anyone waiting for the re-read is woken.
        self.refresh_listeners: list[Callable[[], Awaitable[None]]] = []
        self.logins = 0
        self.refreshes = 0
        # For /metrics: actions that failed, by (action, AmiNotConnected | AmiActionTimeout | AmiActionFailed).
        self.action_failures: collections.Counter[tuple[str, str]] = collections.Counter()
        self._manager: _Manager | None = None
        self.background = Background("AMI follow-up", logger)
        self._refreshed = asyncio.Condition()
        self._booted = asyncio.Event()  # FullyBooted seen on the current connection

    def subscribe(self, sink: EventSink, events: Iterable[str] | None = None) -> None:
        """`sink` gets the events named, or every event if none are named."""
        if events is None:
            self.sinks.append(sink)
            return
        for name in events:
            self._sinks_by_event.setdefault(name, []).append(sink)

    @property
    def connected(self) -> bool:
        return bool(self._manager and self._manager.authenticated and self._manager._connected)

    async def start(self) -> None:
        self._manager = _Manager(
            loop=asyncio.get_running_loop(),
            host=self.settings.host,
            port=self.settings.port,
            username=self.settings.username,
            secret=self.password,
            events="on",
            ping_delay=5,
            ping_interval=5,
            reconnect_timeout=self.settings.reconnect_delay,
            on_login=self._logged_in,
            on_disconnect=self._disconnected,
            forgetable_actions=("ping", "login", "queuestatus"),
            protocol_factory=_EventProtocol,
        )
        self._manager.reconnect_timeout = self.settings.reconnect_delay  # panoramisk keeps whole seconds only
        self._manager.event_received = self._event
        self._manager.register_event("*", self._dispatch)
        self._manager.connect()

    async def stop(self) -> None:
        if self._manager is not None:
            self._manager.stopped = True
            self._manager.close()
        await self.background.close()

    async def action(self, fields: dict[str, str], timeout: float | None = None, listing: bool = False) -> Any:
        """Send one action; returns the response, or all its events for a `listing` action (QueueStatus).

        panoramisk guesses from the reply text whether more events follow, and guesses wrong for QueueAdd
        ("Added interface to queue"): its future never resolves. So we say which it is.
        """
        if not self.connected or self._manager is None:
            self.action_failures[fields.get("Action", ""), AmiNotConnected.__name__] += 1
            raise AmiNotConnected(f"AMI not connected; {fields.get('Action')} not sent")
        future = self._manager.send_action(dict(fields), as_list=True if listing else False)
        try:
            async with asyncio.timeout(timeout or self.settings.action_timeout):
                response = await asyncio.shield(future)
        except TimeoutError:
            future.cancel()
            self.action_failures[fields.get("Action", ""), AmiActionTimeout.__name__] += 1
            raise AmiActionTimeout(f"no answer to {fields.get('Action')} within "
                                   f"{timeout or self.settings.action_timeout:g} s") from None
        first = response[0] if isinstance(response, list) else response
        if first.get("Response") == "Error":
            self.action_failures[fields.get("Action", ""), AmiActionFailed.__name__] += 1
            raise AmiActionFailed(f"{fields.get('Action')}: {first.get('Message', 'error')}")
        return response

    async def refresh_queues(self) -> None:
        response = await self.action({"Action": "QueueStatus"}, listing=True)
        self.queue_state.replace(response if isinstance(response, list) else [response])
        for listener in list(self.refresh_listeners):
            await listener()
        self.refreshes += 1
        async with self._refreshed:
            self._refreshed.notify_all()
        logger.info("queue state re-read: %s", self.queue_state.summary()["queues"])

    async def wait_refreshed(self, after: int, timeout: float) -> None:
        """Wait until more than `after` full re-reads of the queue state have been done."""
        async with asyncio.timeout(timeout), self._refreshed:
            await self._refreshed.wait_for(lambda: self.refreshes > after)

    def _dispatch(self, _manager: Manager, event: Mapping[str, str]) -> None:
        """The events panoramisk parsed itself (see _EventProtocol)."""
        self._event(event)

    def _event(self, event: Mapping[str, str]) -> None:
        """One look-up per event: nothing is called for an event nobody subscribed to."""
        name = event["Event"]
        named = self._sinks_by_event.get(name, ())
        for sink in (*named, *self.sinks) if self.sinks else named:
            try:
                sink(name, event)
            except Exception:
                logger.exception("[%s] handling AMI event %s failed", event.get("Uniqueid", "-"), name)

    def _logged_in(self, _manager: Manager) -> None:
        self.logins += 1
        logger.info("AMI logged in to %s:%s (login #%d)", self.settings.host, self.settings.port, self.logins)
        self.background.spawn(self._refresh_after_login(self.logins))

    def _fully_booted(self, _name: str, _event: Mapping[str, str]) -> None:
        """Asterisk sends FullyBooted right after a login when it is up, or once its modules are loaded when it
        is still starting (after a restart the manager answers before app_queue is there)."""
        self._booted.set()

    async def _refresh_after_login(self, login: int) -> None:
        """Re-read the queues as soon as Asterisk is fully booted, and again until it worked, for as long as
        this login's connection lasts."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(BOOT_WAIT_SECONDS):
                await self._booted.wait()
        if not self._booted.is_set():
            logger.warning("no FullyBooted from Asterisk %g s after login #%d: reading the queues anyway",
                           BOOT_WAIT_SECONDS, login)
        attempt = 0
        while self.logins == login and self.connected:
            attempt += 1
            try:
                await self.refresh_queues()
                return
            except (AmiNotConnected, AmiActionTimeout, AmiActionFailed) as exc:
                logger.warning("queue state re-read failed (attempt %d): %s", attempt, exc)
                await asyncio.sleep(REREAD_RETRY_SECONDS)

    def _disconnected(self, _manager: Manager, exc: object) -> None:
        self._booted.clear()
        self.queue_state.mark_stale()
        logger.warning("AMI connection lost (%s); reconnecting", exc)
