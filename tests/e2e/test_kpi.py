"""Call-side KPIs from a real run: every figure equals what the run did, call for call."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from ivr import keys
from tests.helpers import CONVERSATION_MS, Hotline, log_in, wait

pytestmark = pytest.mark.asterisk


async def test_kpis_of_a_sipp_run_equal_its_ground_truth(hotline: Hotline) -> None:
    began = datetime.now(UTC)
    truth: dict[str, str] = {}  # caller → what we made happen

    async def call(caller: str, outcome: str, **kwargs: object) -> None:
        finished = hotline.expect_finished_call()
        citizen = await hotline.citizen_call(caller=caller, **kwargs)  # type: ignore[arg-type]
        assert citizen.process.returncode == 0, citizen.errors
        await wait(finished, 15, f"call from {caller} not stored")
        truth[caller] = outcome

    async with hotline.agent("8032", answers="agent_answers_then_hangs_up.xml"):
        await call("13000000001", "answered", number="12345", hang_up_after_ms=10_000,
                   scenario="citizen_rates.xml", digit="1")
        await hotline.app[keys.AGENT_SERVICE].pause("1032", "break")
        await call("13000000002", "abandoned", number="12345", hang_up_after_ms=7_000)
        await hotline.app[keys.AGENT_SERVICE].resume("1032")
    async with hotline.softphone("8032"):
        await call("13000000003", "answered", number="12345", hang_up_after_ms=CONVERSATION_MS)
    await call("13000000004", "hung_up_before_queue", number="12345", hang_up_after_ms=1_000)
    await call("13000000005", "refused", number="00861012345", hang_up_after_ms=0, scenario="citizen_refused.xml")
    ended = datetime.now(UTC)

    supervisor_pin = await hotline.ensure_agent("9001", "值班长")
    assert supervisor_pin is not None
    async with hotline.app[keys.ENGINE].begin() as connection:
        await connection.exec_driver_sql("UPDATE agents SET role = 'supervisor' WHERE id = '9001'")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await log_in(session, hotline.web_url + "/api/session", {"agent_id": "9001", "pin": supervisor_pin})
        period = {"from": began.isoformat(), "to": ended.isoformat()}
        async with session.get(hotline.web_url + "/api/reports/calls", params=period) as response:
            report = await response.json()
            assert response.status == 200, report

    stored = {caller: (await hotline.stored_calls_from(caller)) for caller in truth}
    assert {caller: call.outcome for caller, call in stored.items()} == truth
    kpis = report["calls"]
    assert (kpis["offered"], kpis["answered"], kpis["abandoned"], kpis["hung_up_before_queue"]) == (4, 2, 1, 1)
    assert kpis["answer_rate"] == 0.5
    assert kpis["answered_within_service_level"] == 2 and kpis["service_level_rate"] == 0.5
    assert [c["caller"] for c in kpis["abandoned_calls"]] == ["13000000002"]
    waits = [stored[c].wait_seconds for c in ("13000000001", "13000000002", "13000000003")]
    assert kpis["average_wait_seconds"] == round(sum(w for w in waits if w is not None) / 3, 2)
    assert kpis["abandoned_short"] + kpis["abandoned_long"] == 1
    assert kpis["ratings"] == {"satisfied": 1}
    general = report["lines"]["hotline-general"]
    assert (general["offered"], general["answered"], general["abandoned"]) == (3, 2, 1)
    assert sum(line["offered"] for line in report["lines"].values()) == 4, "the greeting's hang-up: unrouted"
    agent = report["agents"]["1032"]
    assert agent["calls_answered"] == 2 and agent["ratings"] == {"satisfied": 1}
    talk = [stored[caller].talk_seconds or 0 for caller in ("13000000001", "13000000003")]
    assert agent["talk_seconds"] == pytest.approx(sum(talk))
    assert agent["paused_seconds"]["break"] >= 5, "paused through the whole abandoned call"
    assert agent["logged_in_seconds"] >= agent["paused_seconds"]["break"]


async def test_reports_are_for_supervisors_only(hotline: Hotline) -> None:
    pin = await hotline.ensure_agent("1033", "普通坐席")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await log_in(session, hotline.web_url + "/api/session", {"agent_id": "1033", "pin": pin})
        async with session.get(hotline.web_url + "/api/reports/calls") as response:
            assert response.status == 403 and (await response.json())["error_id"] == "not-for-role"
