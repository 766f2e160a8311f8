"""A FastAGI session that is not one of our Asterisk's channels makes no call record: raw TCP sessions against
the real server, router and call flows, with the real tracker. Anyone who reaches the FastAGI port can claim
any unique id, script or caller."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import PurePosixPath
from typing import cast

import pytest

from ivr.app import build_router
from ivr.calls.store import CallerHistory, CallStore
from ivr.calls.tracker import UNANNOUNCED_LIMIT, CallTracker, Row
from ivr.fastagi import FastAgiServer
from ivr.intake.context import CallContext, CallContextFactory, Services
from ivr.settings import FastAgiSettings, Settings
from tests.unit.announced import announce
from tests.unit.test_fastagi_protocol import environment, free_port

STEP = 5.0


class NoHistory:
    async def caller_history(self, number: str, now: datetime, exclude: str, days: int = 30) -> CallerHistory:
        return CallerHistory(0, None)


@dataclasses.dataclass
class Centre:
    server: FastAgiServer[CallContext]
    tracker: CallTracker
    rows: list[Row]

    async def session(self, data: bytes) -> None:
        """Send `data` as Asterisk would, answer every command with success, until the server closes."""
        reader, writer = await asyncio.open_connection(self.server.settings.host, self.server.settings.port)
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(STEP):
            while await reader.readline():
                writer.write(b"200 result=0\n")
                await writer.drain()
        writer.close()


@pytest.fixture
async def centre() -> AsyncIterator[Centre]:
    settings = dataclasses.replace(Settings(), fastagi=FastAgiSettings(port=free_port(), header_timeout=1.0))
    rows: list[Row] = []
    tracker = CallTracker("12345", "citizens", rows.append)
    services = Services(settings, tracker, cast(CallStore, NoHistory()), PurePosixPath("/sounds"))
    server = FastAgiServer(settings.fastagi, build_router(), CallContextFactory(services))
    await server.start()
    yield Centre(server, tracker, rows)
    await server.stop()


async def test_sessions_for_channels_ami_never_announced_make_no_call_record(centre: Centre) -> None:
    await centre.session(environment("hotline-intake", uniqueid="1700000000.666", callerid="13900000666"))
    await centre.session(environment("hotline-rating", uniqueid="1700000000.667"))
    await centre.session(environment("hotline-waiting", uniqueid="1700000000.668"))
    await centre.session(environment("not-our-script", uniqueid="1700000000.669"))
    await centre.session(environment("hotline-intake").replace(b"agi_uniqueid: 1700000000.42\n", b""))
    await centre.session(b"GET / HTTP/1.1\r\nHost: hotline\r\n\r\n")
    await centre.session(b"agi_uniqueid: " + b"9" * 70_000 + b"\n\n")
    assert centre.server.sessions_served == 7
    assert (centre.rows, centre.tracker.live) == ([], {})

    # The same session for a channel AMI announced is recorded: what the first assertion rules out can happen.
    announce(centre.tracker, "1700000000.670")
    await centre.session(environment("hotline-intake", uniqueid="1700000000.670", callerid="13900000670"))
    assert centre.rows[-1]["intake"] == "ivr" and centre.rows[-1]["caller_number"] == "13900000670"


def test_an_intake_ahead_of_its_newchannel_waits_for_it_and_only_a_bounded_few_wait() -> None:
    rows: list[Row] = []
    tracker = CallTracker("12345", "citizens", rows.append)
    tracker.intake("1700000000.1", "13900000001", "12345")
    tracker.routed("1700000000.1", "hotline-general", 0)
    assert rows == []
    announce(tracker, "1700000000.1")
    assert rows[-1]["intake"] == "ivr" and rows[-1]["line"] == "hotline-general"
    assert rows[-1]["caller_number"] == "13900000001"

    for number in range(UNANNOUNCED_LIMIT + 1):
        tracker.intake(f"1700000001.{number}", "13900000002", "12345")
    announce(tracker, "1700000001.0")  # the oldest, pushed out by the flood
    announce(tracker, f"1700000001.{UNANNOUNCED_LIMIT}")
    assert "intake" not in rows[-2] and rows[-1]["intake"] == "ivr"
