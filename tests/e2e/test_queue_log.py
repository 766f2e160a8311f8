"""Asterisk's queue log against the call records of a real run: they agree call for call, and the log fills
what the AMI record lacks (events missed, or the whole server down while the call was made)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.calls.queue_log import SETTLE, Period, QueueLogImporter
from ivr.calls.store import CallStore
from ivr.db.models import Call
from ivr.secrets import Secrets
from ivr.settings import Settings
from routing.queue_log import SECONDS_TOLERANCE, QueueCall, fold, parse_lines, queue_outcome
from tests.helpers import CONVERSATION_MS, Hotline, start_hotline, wait

pytestmark = pytest.mark.asterisk


def importing_every(settings: Settings, seconds: float) -> Settings:
    return dataclasses.replace(settings, queue=dataclasses.replace(settings.queue, log_import_seconds=seconds))


def queue_log_calls(hotline: Hotline) -> dict[str, QueueCall]:
    text = hotline.app[keys.LAYOUT].queue_log.read_text()
    return fold(parse_lines(enumerate(text.splitlines(), start=1)))


def one_pass(hotline: Hotline, since: datetime) -> QueueLogImporter:
    """A whole-file reconciliation of the calls since `since`, as `hotline kpi reconcile` runs it a minute
    from now (a call the database does not know is recorded once its record cannot be on its way)."""
    store = CallStore(hotline.app[keys.ENGINE])
    period = Period(since, datetime.now(UTC) + timedelta(seconds=1))
    return QueueLogImporter(hotline.app[keys.LAYOUT].queue_log, store, store.upsert,
                            hotline.settings.queue.max_wait_seconds, period=period,
                            clock=lambda: datetime.now(UTC) + SETTLE)


def assert_same_facts(call: Call, logged: QueueCall, max_wait_seconds: float) -> None:
    assert call.outcome == queue_outcome(logged, max_wait_seconds)
    assert (call.agent, call.queue) == (logged.agent, logged.queue)
    assert call.wait_seconds is not None and logged.wait_seconds is not None
    assert abs(call.wait_seconds - logged.wait_seconds) <= SECONDS_TOLERANCE
    assert (call.talk_seconds is None) == (logged.talk_seconds is None)
    if call.talk_seconds is not None and logged.talk_seconds is not None:
        assert abs(call.talk_seconds - logged.talk_seconds) <= SECONDS_TOLERANCE


async def test_the_queue_log_agrees_with_the_ami_record_and_restores_what_ami_missed(
    asterisk: AsteriskProcess, settings: Settings, secrets: Secrets
) -> None:
    # The server's own import runs only at start-up here: the passes below are the test's.
    async with start_hotline(importing_every(settings, 3600), secrets, asterisk) as hotline:
        began = datetime.now(UTC) - timedelta(seconds=1)
        abandoned = await hotline.unanswered_call("12345", hang_up_after_ms=8_000, caller="13100000001")
        answered = await hotline.call_answered_by("8025", caller="13100000002")
        assert (abandoned.outcome, answered.outcome) == ("abandoned", "answered")

        logged = queue_log_calls(hotline)
        for call in (abandoned, answered):
            assert_same_facts(call, logged[call.uniqueid], settings.queue.max_wait_seconds)
        report = await one_pass(hotline, began).import_new()
        assert (report.filled, report.inserted, report.discrepancies, report.malformed) == ([], [], [], [])

        # As if the AMI connection had dropped while the answered call was queued and talking, and the
        # abandoned call had never reached the database at all.
        async with hotline.app[keys.ENGINE].begin() as connection:
            await connection.execute(update(Call).where(Call.uniqueid == answered.uniqueid).values(
                queue=None, enqueued_at=None, answered_at=None, agent=None, wait_seconds=None, talk_seconds=None,
                outcome="hung_up_before_queue"))
            await connection.execute(delete(Call).where(Call.uniqueid == abandoned.uniqueid))
        report = await one_pass(hotline, began).import_new()
        assert [r.uniqueid for r in report.filled] == [answered.uniqueid]
        assert [r.uniqueid for r in report.inserted] == [abandoned.uniqueid]
        assert report.discrepancies == []
        restored = await hotline.stored_call(answered.uniqueid)
        recovered = await hotline.stored_call(abandoned.uniqueid)
    assert_same_facts(restored, logged[answered.uniqueid], settings.queue.max_wait_seconds)
    assert_same_facts(recovered, logged[abandoned.uniqueid], settings.queue.max_wait_seconds)
    assert (restored.intake, restored.seat, restored.caller_number) == ("ivr", "8025", "13100000002")
    assert (recovered.caller_number, recovered.ended_at is not None) == ("13100000001", True)


async def test_a_call_made_while_the_server_was_down_gets_its_queue_facts_from_the_queue_log(
    asterisk: AsteriskProcess, settings: Settings, secrets: Secrets
) -> None:
    settings = importing_every(settings, 0.5)
    async with start_hotline(settings, secrets, asterisk) as first, first.agent("8026") as agent:
        await first.app[keys.QUEUE_LOG].import_new()  # the log is followed from here on
        await first.stop()  # FastAGI, AMI, the database writer and the queue log import all gone
        citizen = await first.citizen_call("12345", hang_up_after_ms=CONVERSATION_MS, caller="13100000003")
        assert citizen.process.returncode == 0, f"the agent should still answer: {citizen.errors}"
        async with start_hotline(settings, secrets, asterisk) as second:
            # The classic AGI record knows no talk time and no queue: only the queue log can tell.
            row = await wait(
                second.stored_call_matching(lambda row: row.get("caller_number") == "13100000003"
                                            and row.get("talk_seconds") is not None),
                20, "the queue log did not complete the classic AGI record", agent,
            )
            totals = second.app[keys.QUEUE_LOG].totals
            logged = queue_log_calls(second)[row["uniqueid"]]
    assert row["intake"] == "classic-agi" and row["queue"] == "hotline-general"
    assert (row["outcome"], row["agent"], row["seat"]) == ("answered", "1026", "8026")
    assert row["talk_seconds"] == logged.talk_seconds and row["talk_seconds"] > 0
    assert (totals.filled, totals.inserted, totals.discrepancies) == (1, 0, 0)
