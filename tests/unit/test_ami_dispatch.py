"""AMI events reach only the sinks that asked for them, and Asterisk is asked for every event a sink reads."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import cast

from ivr.ami.client import AmiClient, _EventProtocol
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


class FakeManager:
    def __init__(self) -> None:
        self.fast: list[Mapping[str, str]] = []
        self.dispatched: list[str] = []

    def event_received(self, fields: Mapping[str, str]) -> None:
        self.fast.append(fields)

    def dispatch(self, message: Mapping[str, str]) -> None:
        self.dispatched.append(message["Event"])

    def connection_lost(self, _exc: object) -> None:
        pass


def test_events_are_parsed_as_plain_dicts_and_the_rest_goes_panoramisks_way() -> None:
    protocol = _EventProtocol()
    protocol.connection_made(cast(asyncio.Transport, FakeTransport()))
    manager = FakeManager()
    protocol.factory = manager
    protocol.data_received(b"Asterisk Call Manager/9.0.0\r\n")
    protocol.data_received(b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n")
    stream = (b"Event: Hangup\r\nPrivilege: call,all\r\nUniqueid: 1.1\r\nCause-txt: Normal Clearing\r\n\r\n"
              b"Event: OriginateResponse\r\nActionID: hotline-callback-1-1\r\nResponse: Failure\r\n\r\n"
              b"Event: QueueCallerJoin\r\nQueue: hotline-general\r\nUniq")
    protocol.data_received(stream)
    protocol.data_received(b"ueid: 1.2\r\n\r\n")

    assert manager.fast == [
        {"Event": "Hangup", "Privilege": "call,all", "Uniqueid": "1.1", "Cause-txt": "Normal Clearing"},
        {"Event": "QueueCallerJoin", "Queue": "hotline-general", "Uniqueid": "1.2"},
    ]
    assert manager.dispatched == ["OriginateResponse"], "an event with an ActionID may answer an action"


class FakeTransport:
    def close(self) -> None:
        pass
