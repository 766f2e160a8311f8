"""The /metrics collector against hand-built state: the exposition parsed back with prometheus_client's own
parser. Calls and queues from AMI event dicts fed to the real tracker and queue state; agents from the seat
queue; FastAGI sessions from a scripted fake Asterisk over loopback; AMI and the call writer's counters; the
error-log counter; the job counts on SQLite and PostgreSQL; the database away (refused, or silent) leaving
database_up 0 and a scrape that still answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.ami.client import AmiClient
from ivr.ami.errors import AmiNotConnected
from ivr.ami.queue_state import QueueState
from ivr.calls.store import CallStore, CallWriter
from ivr.calls.tracker import CallTracker, Row
from ivr.db.engine import create_engine
from ivr.db.models import Callback, SmsMessage
from ivr.fastagi import AgiCall, FastAgiServer, Router
from ivr.metrics import jobs, live
from ivr.metrics.collector import DuplicateMetric, Metrics
from ivr.metrics.log_errors import counting_errors
from ivr.settings import AmiSettings, FastAgiSettings
from tests.unit.test_fastagi_protocol import STEP, environment, free_port

SEATS = "hotline-direct"
GENERAL, ENGLISH = "hotline-general", "hotline-english"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: bytes) -> Samples:
    """(sample name, labels) → value, for every sample of the exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text.decode()) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in samples, f"{name}{labels} not in the scrape: {sorted(k for k in samples if k[0] == name)}"
    return samples[key]


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def stamp(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def seat(number: str, status: str, paused: str = "0", reason: str = "") -> dict[str, str]:
    return {"Queue": SEATS, "Interface": f"PJSIP/{number}", "MemberName": "1" + number[1:], "Status": status,
            "Paused": paused, "PausedReason": reason, "Penalty": "0"}


class Centre:
    """A tracker, a queue state and the server's parts as the composition root wires them, not started."""

    def __init__(self, tmp_path: Path) -> None:
        self.rows: list[Row] = []
        self.tracker = CallTracker("12345", "citizens", self.rows.append)
        self.state = QueueState()
        self.ami = AmiClient(AmiSettings(), "password", self.state)
        self.fastagi: FastAgiServer[None] = FastAgiServer(FastAgiSettings(port=free_port()), Router(),
                                                          lambda call: None)
        self.engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
        self.writer = CallWriter(CallStore(self.engine), tmp_path / "spool.jsonl")
        self.metrics = Metrics()
        live.watch(self.metrics, self.tracker, self.ami, self.fastagi, self.writer, SEATS)

    def event(self, name: str, **fields: str) -> None:
        """As the AMI client dispatches an event: to the queue state and the tracker if they subscribed to it."""
        if name in QueueState.EVENTS:
            self.state.handle(name, fields)
        if name in self.tracker.events:
            self.tracker.handle(name, fields)

    def caller_waits(self, uniqueid: str, queue: str, joined: datetime) -> None:
        self.event("Newchannel", Uniqueid=uniqueid, Context="citizens", ChannelState="4", Exten="12345",
                   CallerIDNum="13800138000", Timestamp=stamp(joined))
        self.event("QueueCallerJoin", Uniqueid=uniqueid, Queue=queue, Timestamp=stamp(joined))

    async def scrape(self) -> Samples:
        return parse(await self.metrics.scrape())


@pytest.fixture
async def centre(tmp_path: Path) -> AsyncIterator[Centre]:
    built = Centre(tmp_path)
    yield built
    await built.engine.dispose()


async def test_calls_queues_and_waits_come_from_the_tracker_and_the_queue_state(centre: Centre) -> None:
    now = datetime.now(UTC)
    centre.caller_waits("1.1", GENERAL, now - timedelta(seconds=30))
    centre.caller_waits("1.2", GENERAL, now - timedelta(seconds=10))
    # Known to the queue state only (as from the full re-read after a reconnect): no join time to go by.
    centre.state.handle("QueueCallerJoin", {"Uniqueid": "1.9", "Queue": ENGLISH})
    centre.caller_waits("1.3", GENERAL, now - timedelta(seconds=50))
    centre.event("QueueCallerAbandon", Uniqueid="1.3", Queue=GENERAL)
    centre.event("QueueCallerLeave", Uniqueid="1.3", Queue=GENERAL)
    centre.event("Hangup", Uniqueid="1.3", Cause="16")

    samples = await centre.scrape()
    assert value(samples, "hotline_calls_in_progress") == 2
    assert value(samples, "hotline_queue_waiting", queue=GENERAL) == 2
    assert value(samples, "hotline_queue_waiting", queue=ENGLISH) == 1
    assert 30 <= value(samples, "hotline_queue_longest_wait_seconds", queue=GENERAL) < 40, \
        "the caller who left after 50 s no longer counts; the one waiting 30 s is the longest"
    assert value(samples, "hotline_queue_longest_wait_seconds", queue=ENGLISH) == 0
    assert value(samples, "hotline_calls_finished_total", outcome="abandoned") == 1
    assert value(samples, "hotline_queue_state_stale") == 1, "never read in full from Asterisk"

    centre.event("AgentConnect", Uniqueid="1.1", Queue=GENERAL, MemberName="1001", Interface="PJSIP/8001")
    centre.event("QueueCallerLeave", Uniqueid="1.1", Queue=GENERAL)
    centre.event("Hangup", Uniqueid="1.1", Cause="16")
    samples = await centre.scrape()
    assert value(samples, "hotline_queue_waiting", queue=GENERAL) == 1
    assert value(samples, "hotline_calls_finished_total", outcome="abandoned") == 1
    assert value(samples, "hotline_calls_finished_total", outcome="answered") == 1
    assert value(samples, "hotline_calls_in_progress") == 1


async def test_agents_are_counted_from_the_seat_queue_with_the_pause_reasons(centre: Centre) -> None:
    centre.event("QueueMemberAdded", **seat("8001", "1"))
    centre.event("QueueMemberAdded", **seat("8002", "2"))
    centre.event("QueueMemberAdded", **seat("8003", "1", paused="1", reason="meeting"))
    centre.event("QueueMemberAdded", **seat("8004", "1", paused="1", reason="meeting"))
    centre.event("QueueMemberAdded", **seat("8005", "1", paused="1"))
    centre.event("QueueMemberAdded", **{**seat("8006", "1"), "Queue": GENERAL})  # not logged in on the seat queue
    centre.event("QueueMemberPause", **seat("8004", "1", paused="0"))

    samples = await centre.scrape()
    assert value(samples, "hotline_agents_logged_in") == 5
    assert value(samples, "hotline_agents_available") == 2  # 8001 and 8004, resumed
    assert value(samples, "hotline_agents_in_call") == 1
    assert value(samples, "hotline_agents_paused", reason="meeting") == 1
    assert value(samples, "hotline_agents_paused", reason="unspecified") == 1


async def test_ami_and_call_writer_figures(centre: Centre) -> None:
    centre.ami.logins = 3
    for _ in range(2):
        with pytest.raises(AmiNotConnected):
            await centre.ami.action({"Action": "QueueAdd"})
    centre.writer.submit({"uniqueid": "1.1", "caller_number": "13800138000"})
    centre.writer.submit({"uniqueid": "1.2"})
    centre.writer.rows_written, centre.writer.last_error = 7, "OperationalError: gone"
    centre.writer.rows_rejected = 2

    samples = await centre.scrape()
    assert value(samples, "hotline_ami_connected") == 0
    assert value(samples, "hotline_ami_reconnects_total") == 2
    assert value(samples, "hotline_ami_action_failures_total", action="QueueAdd", error="AmiNotConnected") == 2
    assert value(samples, "hotline_call_writer_backlog") == 2
    assert value(samples, "hotline_call_writer_failing") == 1
    assert value(samples, "hotline_call_rows_written_total") == 7
    assert value(samples, "hotline_call_rows_rejected_total") == 2
    assert value(samples, "hotline_fastagi_up") == 0
    assert "hotline_database_up" not in names(samples), "no database source registered"


async def test_fastagi_sessions_are_counted_by_script_and_result(centre: Centre) -> None:
    async def fine(call: AgiCall, ctx: None) -> None:
        return None

    async def broken(call: AgiCall, ctx: None) -> None:
        raise RuntimeError("a bug")

    centre.fastagi.router.add("intake", fine)
    centre.fastagi.router.add("rate", broken)
    await centre.fastagi.start()
    try:
        for payload in (environment("intake"), environment("intake"), environment("rate"), environment("nothing"),
                        b"not an environment\n\n"):
            await session(centre.fastagi, payload)
        samples = await centre.scrape()
    finally:
        await centre.fastagi.stop()
    assert value(samples, "hotline_fastagi_up") == 1
    assert value(samples, "hotline_fastagi_requests_total", script="intake", result="ok") == 2
    assert value(samples, "hotline_fastagi_requests_total", script="rate", result="handler-crashed") == 1
    assert value(samples, "hotline_fastagi_requests_total", script="(unknown)", result="unknown-script") == 1
    assert value(samples, "hotline_fastagi_protocol_errors_total", kind="AgiHeaderError") == 1


async def session(server: FastAgiServer[None], payload: bytes) -> None:
    """One connection from a fake Asterisk: the environment, any command answered with 200, until closed."""
    reader, writer = await asyncio.open_connection(server.settings.host, server.settings.port)
    writer.write(payload)
    try:
        async with asyncio.timeout(STEP):
            while line := await reader.readline():
                assert line.startswith(b"SET VARIABLE"), line  # the failure noted for the dialplan
                writer.write(b"200 result=1\n")
    finally:
        writer.close()


async def test_error_records_are_counted_by_logger_while_installed(centre: Centre) -> None:
    target = logging.getLogger("ivr.metrics.test")
    with counting_errors(centre.metrics.log_errors):
        target.error("one")
        target.critical("two")
        target.warning("not an error")
        logging.getLogger("ivr.other").error("three")
    target.error("after the application stopped: not counted")
    samples = await centre.scrape()
    assert value(samples, "hotline_log_errors_total", logger="ivr.metrics.test") == 2
    assert value(samples, "hotline_log_errors_total", logger="ivr.other") == 1
    assert target.handlers == [] and not any(type(h).__name__ == "ErrorCounter" for h in logging.getLogger().handlers)


async def test_a_failing_source_is_left_out_and_counted_and_names_are_not_registered_twice(centre: Centre) -> None:
    def broken() -> float:
        raise KeyError("a bug in a source")

    centre.metrics.add("hotline_broken", "a source with a bug", broken)
    with pytest.raises(DuplicateMetric):
        centre.metrics.add("hotline_broken", "again", lambda: 1.0)
    with pytest.raises(DuplicateMetric):
        centre.metrics.add("hotline_calls_in_progress", "taken by the live sources", lambda: 1.0)
    samples = await centre.scrape()
    assert "hotline_broken" not in names(samples)
    assert value(samples, "hotline_scrape_errors_total", part="hotline_broken") == 1
    assert value(samples, "hotline_calls_in_progress") == 0, "the other sources are still read"


async def test_job_counts_and_a_registered_database_gauge(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.execute(insert(Callback), [
            {"number": f"1390000000{i}", "reason": "missed", "day": "2026-11-25", "origin_uniqueid": f"1.{i}",
             "status": status, "next_attempt_at": now, "created_at": now, "updated_at": now}
            for i, status in enumerate(("pending", "pending", "dialling", "answered"))])
        await connection.execute(insert(SmsMessage), [
            {"direction": direction, "number": "13900000001", "text": "t", "status": status, "purpose": "survey",
             "created_at": now, "updated_at": now}
            for direction, status in (("out", "queued"), ("out", "failed"), ("out", "delivered"),
                                      ("in", "received"))])
    metrics = Metrics()
    jobs.watch_jobs(metrics, engine)

    async def report_runs(connection: object) -> dict[tuple[str, ...], float]:
        return {("daily", "done"): 3}

    metrics.add_database("hotline_report_runs", "the hook the report scheduler uses", report_runs,
                         ("kind", "status"))
    samples = parse(await metrics.scrape())
    assert value(samples, "hotline_database_up") == 1
    assert value(samples, "hotline_callbacks", status="pending") == 2
    assert value(samples, "hotline_callbacks", status="dialling") == 1
    assert value(samples, "hotline_sms_messages", status="queued") == 1
    assert value(samples, "hotline_sms_messages", status="failed") == 1
    assert value(samples, "hotline_sms_messages", status="sending") == 0
    assert value(samples, "hotline_transcription_jobs", status="queued") == 0
    assert value(samples, "hotline_surveys", status="waiting_reply") == 0
    assert value(samples, "hotline_report_runs", kind="daily", status="done") == 3
    assert ("hotline_callbacks", frozenset({("status", "answered")})) not in samples, "final states are not counted"


async def test_with_postgresql_refusing_the_scrape_answers_with_database_up_0() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/hotline")  # nothing listens on port 1
    metrics = Metrics()
    jobs.watch_jobs(metrics, engine)
    try:
        first = parse(await metrics.scrape())
        second = parse(await metrics.scrape())
    finally:
        await engine.dispose()
    assert value(first, "hotline_database_up") == 0
    assert "hotline_callbacks" not in names(first), "no stale or made-up counts"
    assert value(second, "hotline_scrape_errors_total", part="database") == 2


async def test_a_database_that_never_answers_costs_the_scrape_its_timeout_only() -> None:
    held: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda _reader, writer: held.append(writer), "127.0.0.1", 0)  # never speaks
    port = silent.sockets[0].getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/hotline")
    metrics = Metrics(database_timeout=0.3)
    jobs.watch_jobs(metrics, engine)
    try:
        async with asyncio.timeout(STEP):
            samples = parse(await metrics.scrape())
    finally:
        await engine.dispose()
        for writer in held:
            writer.close()
        silent.close()
        await silent.wait_closed()
    assert value(samples, "hotline_database_up") == 0
    assert value(samples, "hotline_scrape_errors_total", part="database") == 1
