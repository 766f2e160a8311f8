"""After each AMI login: which calls Asterisk still has, and which ended while we could not see them.

While the server, or only its AMI connection, was away, calls ended without a Hangup event reaching us:
their records stayed `in_progress`, until the queue log settled them a minute later, and for good if they
never queued. So after every login (the queue state re-read), the server asks Asterisk for its channels
(the Status action, which the `call` class the AMI user holds allows) and
- ends now a call the tracker follows whose channel is gone (Asterisk restarted under it);
- follows again a stored unfinished call whose channel is still up (the server restarted during it): its
  Hangup then ends it as usual;
- ends a stored unfinished call whose channel is gone (it ended while the server was away).
A call ended this way has the hang-up cause `vanished` and the outcome its record shows; the queue log pass
run right after replaces that outcome and end time with what the log saw.

One Asterisk per database is assumed, as for the queue log: a call stored by a server with another Asterisk
would look gone here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from ivr.ami.client import AmiClient
from ivr.ami.errors import AmiActionFailed, AmiActionTimeout, AmiNotConnected
from ivr.background import Background
from ivr.calls.store import CallStore, CallWriter
from ivr.calls.tracker import CallTracker

logger = logging.getLogger(__name__)
CHANNEL_EVENT = "Status"  # one per channel in the answer to the Status action
DRAIN_SECONDS = 10.0


@dataclass
class ChannelCheckReport:
    ended: list[str] = field(default_factory=list)  # followed, gone
    followed: list[str] = field(default_factory=list)  # stored unfinished, still up
    ended_stored: list[str] = field(default_factory=list)  # stored unfinished, gone


class ChannelCheck:
    """`after_ending` runs once the calls it ended are written (the queue log pass)."""

    def __init__(self, ami: AmiClient, tracker: CallTracker, store: CallStore, writer: CallWriter,
                 after_ending: Callable[[], Awaitable[object]]) -> None:
        self.ami = ami
        self.tracker = tracker
        self.store = store
        self.writer = writer
        self.after_ending = after_ending
        self.checks = 0
        self.last: ChannelCheckReport | None = None
        self.background = Background("the check of Asterisk's channels", logger)

    async def after_login(self) -> None:
        """A refresh listener of the AMI client: the check runs beside, not inside, the queue re-read."""
        self.background.spawn(self.check())

    async def check(self) -> ChannelCheckReport | None:
        followed_before = set(self.tracker.live)  # a call announced after the list was made is not in it
        try:
            channels = await self._channels()
            stored = await self.store.unfinished()
        except (AmiNotConnected, AmiActionTimeout, AmiActionFailed, SQLAlchemyError, OSError) as exc:
            logger.warning("the check of Asterisk's live channels failed (the next login tries again): %s", exc)
            return None
        report = ChannelCheckReport()
        for uniqueid in sorted(followed_before - channels.keys()):
            if uniqueid in self.tracker.live:
                self.tracker.vanished(uniqueid)
                report.ended.append(uniqueid)
        for row in stored:
            uniqueid = row["uniqueid"]
            if uniqueid in self.tracker.live or uniqueid in self.writer.pending:
                continue  # followed, or its newer row is on its way
            if uniqueid in channels:
                self.tracker.follow(row, channels[uniqueid])
                report.followed.append(uniqueid)
            else:
                self.tracker.end_stored(row)
                report.ended_stored.append(uniqueid)
        self.checks += 1
        self.last = report
        logger.info("Asterisk's channels checked: %d call(s) ended unseen, %d stored one(s) followed again, "
                    "%d stored one(s) ended", len(report.ended), len(report.followed), len(report.ended_stored))
        if (report.ended or report.ended_stored) and await self.writer.drain(DRAIN_SECONDS):
            await self.after_ending()
        return report

    async def _channels(self) -> dict[str, str | None]:
        """Unique id → channel name of every channel Asterisk has now."""
        response = await self.ami.action({"Action": "Status"}, listing=True)
        events: list[Mapping[str, str]] = response if isinstance(response, list) else [response]
        return {event["Uniqueid"]: event.get("Channel") for event in events
                if event.get("Event") == CHANNEL_EVENT and event.get("Uniqueid")}

    async def close(self) -> None:
        await self.background.close()
