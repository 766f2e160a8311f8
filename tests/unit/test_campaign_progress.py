"""The live progress notifier: a stream gets the snapshot at once, then only changes; `changed` wakes it at once
(the fallback read is long here, so nothing else could), the fallback read alone sees a change made elsewhere,
close() ends every stream; the dialer's listener finishes a campaign and wakes its streams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime

from ivr.campaigns.progress import CampaignFollower, CampaignProgress, Snapshot
from ivr.db.models import Survey


class Counter:
    """A campaign's snapshot that the test changes, and how often it was read."""

    def __init__(self) -> None:
        self.values: dict[int, int] = {}
        self.reads = 0
        self.read_once = asyncio.Event()

    async def read(self, campaign_id: int) -> Snapshot:
        self.reads += 1
        self.read_once.set()
        return {"campaign": campaign_id, "answered": self.values.get(campaign_id, 0)}


async def next_of(updates: AsyncGenerator[Snapshot, None], seconds: float = 5) -> Snapshot:
    async with asyncio.timeout(seconds):
        return await anext(updates)


async def test_a_stream_gets_the_snapshot_then_each_change_when_told() -> None:
    counter = Counter()
    progress = CampaignProgress(counter.read, fallback=3600)
    async with contextlib.aclosing(progress.updates(7)) as updates:
        assert await next_of(updates) == {"campaign": 7, "answered": 0}
        assert progress.watchers == 1
        waiting = asyncio.ensure_future(next_of(updates))
        await counter.read_once.wait()
        counter.read_once.clear()
        progress.changed(8)  # another campaign: this stream reads nothing
        progress.changed(7)  # unchanged: read again, nothing sent
        await counter.read_once.wait()
        assert not waiting.done()
        counter.values[7] = 1
        progress.changed(7)
        assert await waiting == {"campaign": 7, "answered": 1}
        counter.values[7] = 2
        progress.changed()  # every campaign's streams
        assert await next_of(updates) == {"campaign": 7, "answered": 2}
    assert progress.watchers == 0


async def test_a_change_made_elsewhere_is_seen_by_the_fallback_read() -> None:
    counter = Counter()
    progress = CampaignProgress(counter.read, fallback=0.05)
    async with contextlib.aclosing(progress.updates(1)) as updates:
        assert await next_of(updates) == {"campaign": 1, "answered": 0}
        counter.values[1] = 5  # nobody calls changed(), as when the CLI or another server changed it
        assert await next_of(updates) == {"campaign": 1, "answered": 5}
        assert counter.reads >= 2


async def test_an_unchanged_snapshot_is_sent_again_after_the_keepalive() -> None:
    counter = Counter()
    progress = CampaignProgress(counter.read, fallback=0.01, keepalive=0.05)
    async with contextlib.aclosing(progress.updates(1)) as updates:
        first = await next_of(updates)
        assert await next_of(updates) == first


async def test_close_ends_every_stream() -> None:
    counter = Counter()
    progress = CampaignProgress(counter.read, fallback=3600)
    streams = [progress.updates(1), progress.updates(1), progress.updates(2)]
    for stream in streams:
        await next_of(stream)
    ends = [asyncio.ensure_future(anext(stream)) for stream in streams]
    progress.close()
    async with asyncio.timeout(5):
        for ended in ends:
            try:
                await ended
            except StopAsyncIteration:
                continue
            raise AssertionError("a stream went on after close()")
    assert progress.watchers == 0


async def test_the_dialers_listener_finishes_the_campaign_and_wakes_its_streams() -> None:
    finished: list[int] = []

    async def finish_if_done(campaign_id: int, now: datetime) -> bool:
        finished.append(campaign_id)
        return True

    counter = Counter()
    progress = CampaignProgress(counter.read, fallback=3600)
    follower = CampaignFollower(finish_if_done, progress)
    async with contextlib.aclosing(progress.updates(4)) as updates:
        await next_of(updates)
        counter.values[4] = 1
        follower.survey_ended(Survey(id=1, campaign_id=None))  # a return visit: not a campaign's
        follower.survey_ended(Survey(id=2, campaign_id=4))
        assert await next_of(updates) == {"campaign": 4, "answered": 1}
    await follower.close()
    assert finished == [4]
