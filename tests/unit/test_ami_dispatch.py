"""AMI events reach only the sinks that asked for them, and Asterisk is asked for every event a sink reads."""

from __future__ import annotations

from collections.abc import Mapping

from ivr.ami.client import AmiClient
from ivr.ami.events import event_filters
from ivr.ami.queue_state import QueueState
from ivr.callbacks.dialer import CallbackDialer
from ivr.calls.tracker import CallTracker
from ivr.desk.hub import DeskHub
from ivr.settings import AmiSettings


async def test_a_sink_gets_the_events_it_named_and_a_catch_all_sink_gets_every_event() -> None:
    client = AmiClient(AmiSettings(), "secret", QueueState())
    named: list[str] = []
    every: list[str] = []
    client.subscribe(lambda name, _fields: named.append(name), ["Hangup"])
    client.subscribe(lambda name, _fields: every.append(name))

    for name in ("Newchannel", "Hangup", "VarSet"):
        client._dispatch(None, {"Event": name, "Uniqueid": "1.1"})

    assert named == ["Hangup"]
    assert every == ["Newchannel", "Hangup", "VarSet"]


async def test_a_failing_sink_does_not_keep_the_event_from_the_others() -> None:
    client = AmiClient(AmiSettings(), "secret", QueueState())
    seen: list[Mapping[str, str]] = []

    def broken(_name: str, _fields: Mapping[str, str]) -> None:
        raise KeyError("Uniqueid")

    client.subscribe(broken, ["Hangup"])
    client.subscribe(lambda _name, fields: seen.append(fields), ["Hangup"])
    client._dispatch(None, {"Event": "Hangup"})
    assert seen == [{"Event": "Hangup"}]


def test_asterisk_sends_every_event_our_sinks_read() -> None:
    sent = {f.name for f in event_filters("hotline-direct", "citizens")}
    tracker = CallTracker("12345", "citizens", lambda _row: None)
    for reader, names in (("queue state", QueueState.EVENTS), ("tracker", tracker.events),
                          ("desk", DeskHub.EVENTS), ("callbacks", CallbackDialer.EVENTS)):
        assert set(names) <= sent, f"the {reader} reads events Asterisk is not asked to send"
