"""A call as AMI announces it to the tracker: the FastAGI call flow's facts count only for such a call."""

from __future__ import annotations

from ivr.ami import events
from ivr.calls.tracker import CallTracker


def announce(tracker: CallTracker, uniqueid: str, context: str = "citizens") -> None:
    """The Newchannel of an incoming call (ringing), without caller or number: the intake tells those."""
    tracker.handle(events.NEWCHANNEL, {"Uniqueid": uniqueid, "Context": context, "ChannelState": "4"})
