"""After an AMI login the calls Asterisk no longer has are ended at once, and those it still has are followed
again: no call stays `in_progress` after a restart (it used to, until the queue log settled it a minute later,
or for good when it never queued)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.ami.client import AmiClient
from ivr.ami.errors import AmiNotConnected
from ivr.calls.live_channels import ChannelCheck
from ivr.calls.store import CallStore, CallWriter
from ivr.calls.tracker import CallTracker
from routing.call_outcome import VANISHED
from tests.unit.announced import announce

EARLIER = datetime.now(UTC) - timedelta(minutes=5)


class FakeAmi:
    def __init__(self, *uniqueids: str, error: Exception | None = None) -> None:
        self.uniqueids = uniqueids
        self.error = error

    async def action(self, fields: dict[str, str], timeout: float | None = None, listing: bool = False) -> Any:
        assert (fields, listing) == ({"Action": "Status"}, True)
        if self.error:
            raise self.error
        return [{"Response": "Success", "EventList": "start"},
                *({"Event": "Status", "Uniqueid": uid, "Channel": f"PJSIP/carrier-{uid}"}
                  for uid in self.uniqueids),
                {"Event": "StatusComplete", "EventList": "Complete"}]


async def test_calls_gone_from_asterisk_end_now_and_calls_still_up_are_followed(engine: AsyncEngine,
                                                                                 tmp_path: Path) -> None:
    store = CallStore(engine)
    await store.upsert([
        # Queued while the server was away, then gone; still up; ended and recorded before.
        {"uniqueid": "1.1", "caller_number": "13100000001", "dialled_number": "12345", "started_at": EARLIER,
         "enqueued_at": EARLIER, "outcome": "in_progress"},
        {"uniqueid": "1.2", "caller_number": "13100000002", "dialled_number": "12345", "started_at": EARLIER,
         "enqueued_at": EARLIER, "answered_at": EARLIER, "agent": "1001", "outcome": "answered"},
        {"uniqueid": "1.3", "caller_number": "13100000003", "started_at": EARLIER, "ended_at": EARLIER,
         "outcome": "abandoned"},
    ])
    writer = CallWriter(store, tmp_path / "calls.jsonl")
    tracker = CallTracker("12345", "citizens", writer.submit)
    announce(tracker, "1.4")  # followed, and gone when Asterisk restarted under it
    finished: list[str] = []
    tracker.finished_listeners.append(lambda record: finished.append(record.uniqueid))
    passes: list[str] = []

    async def queue_log_pass() -> None:
        passes.append("ran")

    task = asyncio.create_task(writer.run())
    check = ChannelCheck(cast(AmiClient, FakeAmi("1.2")), tracker, store, writer, queue_log_pass)
    report = await check.check()
    assert report is not None
    assert (report.ended, report.followed, report.ended_stored) == (["1.4"], ["1.2"], ["1.1"])
    assert passes == ["ran"], "the queue log completes the ended calls at once"
    assert sorted(finished) == ["1.1", "1.4"]

    rows = await store.rows_by_uniqueid(["1.1", "1.2", "1.3", "1.4"])
    assert (rows["1.1"]["outcome"], rows["1.1"]["hangup_cause"]) == ("abandoned", VANISHED)
    assert rows["1.1"]["ended_at"] > EARLIER and rows["1.1"]["caller_number"] == "13100000001"
    assert (rows["1.4"]["outcome"], rows["1.4"]["hangup_cause"]) == ("hung_up_before_queue", VANISHED)
    assert "ended_at" not in rows["1.2"] and rows["1.3"]["ended_at"] == EARLIER

    # The call still up is followed again: its Hangup ends it as any other, with what the record knew.
    assert tracker.live["1.2"].channel == "PJSIP/carrier-1.2"
    tracker.handle("Hangup", {"Uniqueid": "1.2", "Cause-txt": "Normal Clearing"})
    assert await writer.drain(timeout=5)
    task.cancel()
    ended = (await store.rows_by_uniqueid(["1.2"]))["1.2"]
    assert (ended["outcome"], ended["agent"], ended["hangup_cause"]) == ("answered", "1001", "Normal Clearing")
    assert ended["talk_seconds"] >= 300


async def test_without_an_answer_from_asterisk_nothing_is_ended(engine: AsyncEngine, tmp_path: Path) -> None:
    store = CallStore(engine)
    await store.upsert([{"uniqueid": "1.1", "started_at": EARLIER, "outcome": "in_progress"}])
    writer = CallWriter(store, tmp_path / "calls.jsonl")
    tracker = CallTracker("12345", "citizens", writer.submit)
    announce(tracker, "1.2")

    async def queue_log_pass() -> None:
        raise AssertionError("nothing was ended")

    ami = FakeAmi(error=AmiNotConnected("AMI not connected; Status not sent"))
    assert await ChannelCheck(cast(AmiClient, ami), tracker, store, writer, queue_log_pass).check() is None
    assert set(tracker.live) == {"1.2"} and all("ended_at" not in row for row in writer.pending.values())
