"""No call is lost to one bad INVITE: what a caller controls (the number dialled, the caller id) is cut to its
column, on PostgreSQL, which refuses a text longer than varchar(64), and the calls after it are recorded too."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.secrets import Secrets
from ivr.settings import Settings
from routing.call_outcome import VANISHED
from tests.helpers import Hotline, fresh_postgres_database, start_hotline, wait

pytestmark = pytest.mark.asterisk
GONE_AND_UP = ("13100000081", "13100000082")  # callers on the line while the server restarts


@pytest.fixture
async def hotline_on_postgres(asterisk: AsteriskProcess, settings: Settings,
                              secrets: Secrets) -> AsyncIterator[Hotline]:
    async with fresh_postgres_database() as url:
        async with start_hotline(dataclasses.replace(settings, database_url=url), secrets, asterisk) as running:
            yield running


async def test_calls_with_a_70_character_number_and_a_200_digit_caller_id_are_recorded_cut_to_fit(
    hotline_on_postgres: Hotline,
) -> None:
    hotline = hotline_on_postgres
    # A row the database can never take (a unique id is never cut): set aside, it holds none of the calls.
    writer = hotline.app[keys.CALL_WRITER]
    writer.submit({"uniqueid": "u" * 80, "caller_number": "13100000069", "outcome": "in_progress"})
    long_number = "00" + "9" * 68  # Asterisk keeps up to 79 characters of the Request-URI's user
    refused = await hotline.unanswered_call(long_number, hang_up_after_ms=0, caller="13100000070",
                                            scenario="citizen_refused.xml")
    long_caller = await hotline.unanswered_call("12345", hang_up_after_ms=0, caller="1" * 200)
    after = await hotline.unanswered_call("12345", hang_up_after_ms=0, caller="13100000071")

    assert (refused.outcome, refused.dialled_number) == ("refused", long_number[:64])
    assert refused.caller_number == "13100000070"
    assert long_caller.caller_number == "1" * 64 and long_caller.dialled_number == "12345"
    assert after.caller_number == "13100000071" and after.ended_at is not None
    async with aiohttp.ClientSession() as session:
        async with session.get(hotline.web_url + "/healthz") as response:
            health = await response.json()
        async with session.get(hotline.web_url + "/metrics") as response:
            metrics = await response.text()
    database = health["database"]
    assert health["ok"] and database["ok"] and database["pending_writes"] == 0, health
    assert database["rows_rejected"] == 1 and "too long" in database["last_rejection"], database
    (entry,) = [json.loads(line) for line in writer.rejected.read_text().splitlines()]
    assert database["rejected_file"] == str(writer.rejected) and entry["row"]["uniqueid"] == "u" * 80
    assert "hotline_call_rows_rejected_total 1.0" in metrics.splitlines()


async def test_after_a_server_restart_calls_gone_end_at_once_and_calls_still_up_end_when_they_hang_up(
    asterisk: AsteriskProcess, settings: Settings, secrets: Secrets
) -> None:
    """They stayed `in_progress` for a minute (until the queue log settled them), or for good."""
    async with start_hotline(settings, secrets, asterisk) as first:
        queued = [first.stored_call_matching(lambda row, caller=caller: row.get("caller_number") == caller
                                             and row.get("enqueued_at") is not None) for caller in GONE_AND_UP]
        # No agent: both wait in the queue; the first hangs up while the server is away, the second after.
        gone, up = (asyncio.create_task(first.citizen_call("12345", hang_up_after_ms=ms, caller=caller))
                    for caller, ms in zip(GONE_AND_UP, (8_000, 14_000), strict=True))
        await wait(asyncio.gather(*queued), 10, "the calls did not reach the queue")
        await first.stop()
        assert (await wait(gone, 15, "the first caller did not hang up")).process.returncode == 0
        async with start_hotline(settings, secrets, asterisk) as second:
            gone_row = await wait(ended(second, GONE_AND_UP[0]), 5, "the call that ended while away is still open")
            assert gone_row["outcome"] == "abandoned" and gone_row["hangup_cause"] == VANISHED
            completed = second.stored_call_matching(lambda row: row.get("caller_number") == GONE_AND_UP[0]
                                                    and row.get("wait_seconds") is not None)
            gone_row = await wait(completed, 5, "the queue log did not complete the call ended unseen")
            assert (await second.stored_calls_from(GONE_AND_UP[1])).ended_at is None, "still up: still open"
            up_ended = ended(second, GONE_AND_UP[1])
            assert (await wait(up, 15, "the second caller did not hang up")).process.returncode == 0
            up_row = await wait(up_ended, 5, "the call that outlived the restart did not end with its hang-up")
    assert gone_row["ended_at"] < up_row["ended_at"] and gone_row["wait_seconds"] > 0
    assert (up_row["outcome"], up_row["intake"]) == ("abandoned", "ivr") and up_row["hangup_cause"] != VANISHED


def ended(hotline: Hotline, caller: str) -> asyncio.Future[dict[str, object]]:
    return hotline.stored_call_matching(lambda row: row.get("caller_number") == caller
                                        and row.get("ended_at") is not None)
