"""No call is lost to one bad INVITE: what a caller controls (the number dialled, the caller id) is cut to its
column, on PostgreSQL, which refuses a text longer than varchar(64), and the calls after it are recorded too."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.secrets import Secrets
from ivr.settings import Settings
from tests.helpers import Hotline, fresh_postgres_database, start_hotline

pytestmark = pytest.mark.asterisk


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
