"""Asterisk's queue log: lines parsed, folded per call, reconciled with the call records."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.queue_log import SETTLE, ImportReport, Period, QueueLogImporter
from ivr.calls.store import CallStore
from ivr.calls.tracker import Row
from ivr.cli import main
from ivr.db.engine import create_engine, upgrade
from ivr.db.models import Call
from routing.call_outcome import VANISHED, Outcome
from routing.queue_log import (
    Abandoned,
    Completed,
    Connected,
    Entered,
    Exited,
    Malformed,
    OtherEvent,
    QueueCall,
    QueueEnd,
    fold,
    is_ready,
    parse_line,
    parse_lines,
    queue_outcome,
    reconcile,
)

T0 = 1_795_000_000  # 2026-11-18 19:06 in Asia/Shanghai, epoch seconds as Asterisk writes them
MAX_WAIT = 300


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def qlog(seconds: int, uniqueid: str, event: str, *data: object, queue: str = "hotline", agent: str = "NONE") -> str:
    return "|".join([str(T0 + seconds), uniqueid, queue, agent, event, *map(str, data)])


def answered_after_a_reentry(uniqueid: str = "1.1", agent: str = "1001") -> list[str]:
    """Waits a 6 s stretch, hears the announcement, re-enters, is answered at 11 s, talks 40 s."""
    return [
        qlog(0, uniqueid, "ENTERQUEUE", "", "13800138000", 1),
        qlog(6, uniqueid, "EXITWITHTIMEOUT", 1, 1, 6),
        qlog(9, uniqueid, "ENTERQUEUE", "", "13800138000", 1),
        qlog(10, uniqueid, "RINGNOANSWER", 1000, agent="1002"),
        qlog(11, uniqueid, "CONNECT", 2, "1.2", 1, agent=agent),
        qlog(51, uniqueid, "COMPLETEAGENT", 2, 40, 1, agent=agent),
    ]


# --- parsing -------------------------------------------------------------------------------------------------

def test_each_call_event_becomes_its_typed_record() -> None:
    assert parse_line(qlog(0, "1.1", "ENTERQUEUE", "", "138", 1), 1) == Entered(1, at(0), "1.1", "hotline", "NONE",
                                                                               caller="138")
    assert parse_line(qlog(3, "1.1", "CONNECT", 3, "1.2", 1, agent="1001"), 2) == Connected(
        2, at(3), "1.1", "hotline", "1001", hold_seconds=3)
    completed = parse_line(qlog(9, "1.1", "COMPLETECALLER", 3, 6, 1, agent="1001"), 3)
    assert isinstance(completed, Completed) and (completed.talk_seconds, completed.ended_by) == (6, "caller")
    transfer = parse_line(qlog(9, "1.1", "BLINDTRANSFER", "110", "hotline-emergency", 3, 7, 1), 4)
    assert isinstance(transfer, Completed) and transfer.talk_seconds == 7
    abandoned = parse_line(qlog(4, "1.3", "ABANDON", 1, 1, 4), 5)
    assert isinstance(abandoned, Abandoned) and abandoned.wait_seconds == 4
    exited = parse_line(qlog(6, "1.4", "EXITWITHKEY", "5", 1, 1, 6), 6)
    assert isinstance(exited, Exited) and (exited.reason, exited.wait_seconds) == ("key", 6)
    member = parse_line(qlog(0, "NONE", "ADDMEMBER", "", agent="1001", queue="hotline-enterprise"), 7)
    assert isinstance(member, OtherEvent) and (member.event, member.queue) == ("ADDMEMBER", "hotline-enterprise")


@pytest.mark.parametrize(("text", "problem"), [
    ("1795000000|1.1|hotline", "expected at least 5 fields separated by '|', found 3"),
    ("yesterday|1.1|hotline|NONE|ENTERQUEUE||138|1", "the time 'yesterday' is not epoch seconds"),
    ("1795000000|1.1|hotline|1001|CONNECT|soon|1.2|1", "CONNECT: holdtime (data1) is 'soon', expected whole seconds"),
    ("1795000000|1.1|hotline|NONE|ABANDON|1|1", "ABANDON: no waittime (data3)"),
    ("1795000000|NONE|hotline|1001|CONNECT|1|1.2|1", "CONNECT without the caller's uniqueid"),
    ("1795000000|1.1|hotline|NONE|", "no event name"),
])
def test_a_malformed_line_is_a_value_naming_its_line_and_fault(text: str, problem: str) -> None:
    result = parse_line(text, 42)
    assert result == Malformed(42, problem, text)
    assert str(result).startswith(f"queue_log line 42: {problem}")


def test_a_malformed_line_does_not_stop_the_lines_after_it() -> None:
    lines = [qlog(0, "1.1", "ENTERQUEUE", "", "138", 1), "garbage", qlog(4, "1.1", "ABANDON", 1, 1, 4)]
    records = parse_lines(enumerate(lines, start=1))
    assert [type(record) for record in records] == [Entered, Malformed, Abandoned]
    assert fold(records)["1.1"].end == QueueEnd.ABANDONED


# --- folding -------------------------------------------------------------------------------------------------

def test_a_reentered_call_waits_from_its_first_entry_not_the_last_stretch() -> None:
    call = fold(parse_lines(enumerate(answered_after_a_reentry(), start=1)))["1.1"]
    assert (call.enqueued_at, call.entries, call.answered_at) == (at(0), 2, at(11))
    assert call.wait_seconds == 11, "CONNECT's holdtime (2) counts from the re-entry only"
    assert (call.agent, call.talk_seconds, call.end, call.caller) == ("1001", 40, QueueEnd.ANSWERED, "13800138000")
    assert queue_outcome(call, MAX_WAIT) == Outcome.ANSWERED


def test_abandon_and_timeout_have_the_wait_since_the_first_entry() -> None:
    calls = fold(parse_lines(enumerate([
        qlog(0, "2.1", "ENTERQUEUE", "", "139", 1),
        qlog(0, "2.2", "ENTERQUEUE", "", "137", 2, queue="hotline-enterprise"),
        qlog(6, "2.1", "EXITWITHTIMEOUT", 1, 1, 6),
        qlog(8, "2.1", "ENTERQUEUE", "", "139", 1),
        qlog(10, "2.1", "ABANDON", 1, 1, 2),
        qlog(300, "2.2", "EXITWITHTIMEOUT", 1, 2, 300, queue="hotline-enterprise"),
        qlog(301, "2.3", "ENTERQUEUE", "", "136", 1),
        qlog(307, "2.3", "EXITWITHTIMEOUT", 1, 1, 6),
    ], start=1)))
    assert (calls["2.1"].wait_seconds, calls["2.1"].end) == (10, QueueEnd.ABANDONED)
    assert queue_outcome(calls["2.1"], MAX_WAIT) == Outcome.ABANDONED
    assert (calls["2.2"].wait_seconds, calls["2.2"].queue) == (300, "hotline-enterprise")
    assert queue_outcome(calls["2.2"], MAX_WAIT) == Outcome.TIMED_OUT, "the hotline ended the wait"
    assert queue_outcome(calls["2.3"], MAX_WAIT) == Outcome.ABANDONED, "hung up during the announcement"


def test_a_call_seen_from_its_middle_is_marked_as_not_whole() -> None:
    call = fold(parse_lines(enumerate(answered_after_a_reentry()[3:], start=1)))["1.1"]
    assert not call.whole and call.wait_seconds == 2


# --- reconciling one call ------------------------------------------------------------------------------------

def the_call(lines: list[str] | None = None) -> QueueCall:
    return fold(parse_lines(enumerate(lines or answered_after_a_reentry(), start=1)))["1.1"]


def test_a_classic_spool_record_gets_the_facts_it_lacks_and_keeps_its_own() -> None:
    record = {"uniqueid": "1.1", "intake": "classic-agi", "outcome": "answered", "agent": "1001",
              "enqueued_at": at(0), "answered_at": at(11.4), "wait_seconds": 11.4, "ended_at": at(60)}
    result = reconcile(the_call(), record, MAX_WAIT)
    assert result.filled == {"queue": "hotline", "talk_seconds": 40.0}
    assert result.discrepancies == () and not result.inserted


def test_a_record_whose_queue_events_were_missed_gets_them_and_a_new_outcome() -> None:
    record = {"uniqueid": "1.1", "intake": "ivr", "rating": "satisfied", "handoff": "110",
              "outcome": "hung_up_before_queue", "ended_at": at(60)}
    result = reconcile(the_call(), record, MAX_WAIT)
    assert result.filled == {"queue": "hotline", "enqueued_at": at(0), "answered_at": at(11), "agent": "1001",
                             "wait_seconds": 11.0, "talk_seconds": 40.0, "outcome": "answered"}
    assert result.discrepancies == ()


def test_disagreements_are_named_and_nothing_is_overwritten() -> None:
    record = {"uniqueid": "1.1", "outcome": "abandoned", "agent": "1002", "enqueued_at": at(0),
              "answered_at": at(9), "wait_seconds": 2.0, "talk_seconds": 40.9, "queue": "hotline"}
    result = reconcile(the_call(), record, MAX_WAIT)
    assert result.filled == {"ended_at": at(51)}
    assert result.discrepancies == (
        "agent: recorded '1002', queue log '1001'",
        "wait_seconds: recorded 2, queue log 11",
        "outcome: recorded 'abandoned', queue log says answered",
    ), "talk 40.9 against 40 is within the log's whole seconds"


def test_a_call_ended_unseen_takes_the_logs_outcome_and_end() -> None:
    """Ended by the channel check after a restart (hang-up cause `vanished`) with the outcome its record
    showed: the log saw the end, and knows better."""
    record = {"uniqueid": "1.1", "outcome": "abandoned", "enqueued_at": at(0), "ended_at": at(600),
              "hangup_cause": VANISHED}
    result = reconcile(the_call(), record, MAX_WAIT)
    assert (result.filled["outcome"], result.filled["ended_at"], result.filled["agent"]) == ("answered", at(51), "1001")
    assert result.discrepancies == ()
    seen = reconcile(the_call(), {**record, "hangup_cause": "Normal Clearing"}, MAX_WAIT)
    assert "ended_at" not in seen.filled, "an end seen is kept"


def test_a_left_call_agrees_with_a_callback_or_voicemail_record() -> None:
    call = the_call([qlog(0, "1.1", "ENTERQUEUE", "", "138", 1), qlog(6, "1.1", "EXITWITHTIMEOUT", 1, 1, 6)])
    for outcome in ("callback_requested", "voicemail", "abandoned"):
        record = {"uniqueid": "1.1", "outcome": outcome, "enqueued_at": at(0), "wait_seconds": 6.3}
        assert reconcile(call, record, MAX_WAIT).discrepancies == ()


def test_a_call_unknown_to_the_database_is_recorded_with_what_the_log_says() -> None:
    result = reconcile(the_call(), None, MAX_WAIT)
    assert result.inserted and result.filled == {
        "uniqueid": "1.1", "caller_number": "13800138000", "started_at": at(0), "queue": "hotline",
        "enqueued_at": at(0), "answered_at": at(11), "agent": "1001", "wait_seconds": 11.0, "talk_seconds": 40.0,
        "outcome": "answered", "ended_at": at(51),
    }


def test_a_call_is_ready_once_nothing_more_can_change_its_queue_facts() -> None:
    gave_up = the_call([qlog(0, "1.1", "ENTERQUEUE", "", "138", 1), qlog(4, "1.1", "ABANDON", 1, 1, 4)])
    left = the_call([qlog(0, "1.1", "ENTERQUEUE", "", "138", 1), qlog(6, "1.1", "EXITWITHTIMEOUT", 1, 1, 6)])
    talking = the_call(answered_after_a_reentry()[:-1])
    soon, later = at(7), at(6) + SETTLE
    assert is_ready(gave_up, {"ended_at": at(5)}, soon, SETTLE), "the record says it ended"
    assert not is_ready(gave_up, {"outcome": "in_progress"}, soon, SETTLE), "the record is still being written"
    assert not is_ready(gave_up, None, soon, SETTLE), "the classic spool may bring its record in a moment"
    assert is_ready(gave_up, None, later, SETTLE)
    assert not is_ready(left, None, soon, SETTLE), "may come back after the announcement"
    assert is_ready(left, None, later, SETTLE)
    assert not is_ready(talking, {"ended_at": at(60)}, later, SETTLE), "no final line yet"


# --- the importer, against a database ------------------------------------------------------------------------

class Log:
    """A queue_log file that Asterisk appends to, and an importer following it with a hand-set clock."""

    def __init__(self, tmp_path: Path, engine: AsyncEngine) -> None:
        self.path = tmp_path / "queue_log"
        self.path.touch()
        self.state_file = tmp_path / "queue_log.state"
        self.store = CallStore(engine)
        self.now = at(60)

    def append(self, lines: list[str]) -> None:
        with self.path.open("a") as handle:
            handle.writelines(line + "\n" for line in lines)

    def importer(self) -> QueueLogImporter:
        return QueueLogImporter(self.path, self.store, self.store.upsert, MAX_WAIT, self.state_file,
                                clock=lambda: self.now)

    async def row(self, uniqueid: str) -> Row:
        return (await self.store.rows_by_uniqueid([uniqueid]))[uniqueid]


@pytest.fixture
async def log(tmp_path: Path, engine: AsyncEngine) -> Log:
    return Log(tmp_path, engine)


def summary(report: ImportReport) -> tuple[list[str], list[str], list[str], list[int]]:
    return ([r.uniqueid for r in report.filled], [r.uniqueid for r in report.inserted],
            [r.uniqueid for r in report.discrepancies], [m.line_number for m in report.malformed])


async def test_the_importer_fills_inserts_and_counts_disagreements(
    log: Log, caplog: pytest.LogCaptureFixture
) -> None:
    importer = log.importer()
    await importer.import_new()  # the first run follows the log from its (empty) end
    await log.store.upsert([
        {"uniqueid": "1.1", "caller_number": "13800138000", "intake": "classic-agi", "rating": "satisfied",
         "outcome": "answered", "agent": "1001", "enqueued_at": at(0), "wait_seconds": 11.2, "ended_at": at(58)},
        {"uniqueid": "3.1", "caller_number": "13700137000", "outcome": "answered", "agent": "1009", "queue": "hotline",
         "enqueued_at": at(0), "answered_at": at(11), "wait_seconds": 11.0, "talk_seconds": 40.0, "ended_at": at(58)},
    ])
    log.append(answered_after_a_reentry("1.1") + answered_after_a_reentry("3.1") + answered_after_a_reentry("4.1"))
    log.now = at(51) + SETTLE

    with caplog.at_level(logging.WARNING, logger="ivr.calls.queue_log"):
        report = await importer.import_new()

    assert summary(report) == (["1.1"], ["4.1"], ["3.1"], [])
    filled = await log.row("1.1")
    assert (filled["talk_seconds"], filled["queue"], filled["rating"], filled["intake"]) == (
        40.0, "hotline", "satisfied", "classic-agi")
    assert filled["wait_seconds"] == 11.2, "a fact the record has is kept"
    assert (await log.row("3.1"))["agent"] == "1009", "a disagreement is reported, not overwritten"
    assert "[3.1]" in caplog.text and "agent: recorded '1009', queue log '1001'" in caplog.text
    inserted = await log.row("4.1")
    assert (inserted["outcome"], inserted["agent"], inserted["started_at"]) == ("answered", "1001", at(0))
    assert summary(await importer.import_new()) == ([], [], [], []), "each call is reconciled once"
    assert (importer.totals.filled, importer.totals.inserted, importer.totals.discrepancies) == (1, 1, 1)


async def test_a_call_split_across_passes_and_a_restart_is_folded_whole(log: Log) -> None:
    log.append([qlog(-100, "0.9", "ENTERQUEUE", "", "130", 1)])  # before the server first followed the log
    await log.importer().import_new()
    lines = answered_after_a_reentry("5.1")
    log.append([*lines[:3], qlog(8, "0.9", "ABANDON", 1, 1, 108)])
    first = log.importer()
    assert summary(await first.import_new()) == ([], [], [], []), "5.1 is still waiting, 0.9 is seen half"
    log.append(lines[3:])
    log.now = at(51) + SETTLE
    restarted = log.importer()  # the server restarted between the two halves
    assert summary(await restarted.import_new()) == ([], ["5.1"], [], [])
    assert (await log.row("5.1"))["wait_seconds"] == 11.0, "from the first entry, read before the restart"
    assert await log.store.rows_by_uniqueid(["0.9"]) == {}, "a call seen from its middle is left alone"


async def test_a_caller_out_of_the_queue_is_settled_only_when_they_cannot_come_back(log: Log) -> None:
    importer = log.importer()
    await importer.import_new()
    log.append([qlog(0, "6.1", "ENTERQUEUE", "", "135", 1), qlog(6, "6.1", "EXITWITHTIMEOUT", 1, 1, 6)])
    log.now = at(10)
    assert summary(await importer.import_new()) == ([], [], [], []), "may be hearing the announcement"
    log.now = at(6) + SETTLE
    assert summary(await importer.import_new()) == ([], ["6.1"], [], [])
    assert (await log.row("6.1"))["outcome"] == "abandoned"


async def test_malformed_lines_are_reported_once_by_number_and_the_rest_is_imported(log: Log) -> None:
    importer = log.importer()
    await importer.import_new()
    log.append(["not a queue log line", *answered_after_a_reentry("7.1"), qlog(52, "7.1", "CONNECT", "x", "7.2", 1)])
    log.now = at(51) + SETTLE
    assert summary(await importer.import_new()) == ([], ["7.1"], [], [1, 8])
    log.append([qlog(53, "NONE", "PAUSEALL", "", agent="1001")])
    assert summary(await importer.import_new())[3] == []


@pytest.mark.parametrize("how", ["rotated", "truncated"])
async def test_a_rotated_or_truncated_log_is_read_from_its_start(log: Log, how: str) -> None:
    importer = log.importer()
    await importer.import_new()
    log.append(answered_after_a_reentry("8.1") + answered_after_a_reentry("8.2"))
    log.now = at(51) + SETTLE
    assert summary(await importer.import_new())[1] == ["8.1", "8.2"]
    if how == "rotated":  # as Asterisk's `logger rotate`: renamed, a new file begun
        os.rename(log.path, log.path.with_name("queue_log.0"))
    else:
        log.path.write_text("")
    log.append(answered_after_a_reentry("9.1"))
    assert summary(await importer.import_new())[1] == ["9.1"]


async def test_a_period_limits_a_whole_file_reconciliation(log: Log) -> None:
    log.append([*answered_after_a_reentry("1.1"),
                qlog(3600, "2.1", "ENTERQUEUE", "", "139", 1), qlog(3604, "2.1", "ABANDON", 1, 1, 4)])
    log.now = at(3604) + SETTLE
    importer = QueueLogImporter(log.path, log.store, log.store.upsert, MAX_WAIT,
                                period=Period(at(1800), at(7200)), clock=lambda: log.now)
    assert summary(await importer.import_new()) == ([], ["2.1"], [], [])
    assert summary(await importer.import_new()) == ([], [], [], []), "now recorded: nothing to fill"


def test_hotline_kpi_reconcile_prints_what_it_filled_and_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_log = tmp_path / "asterisk" / "log" / "queue_log"  # the system Asterisk's layout under data_dir
    queue_log.parent.mkdir(parents=True)
    queue_log.write_text("\n".join([*answered_after_a_reentry("1.1"), "1795000000|broken"]) + "\n")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")

    async def prepare() -> None:
        await upgrade(engine)
        await CallStore(engine).upsert([{"uniqueid": "1.1", "outcome": "answered", "agent": "1002",
                                         "enqueued_at": at(0), "ended_at": at(55)}])

    asyncio.run(prepare())
    code = main(["--set", f"data_dir={tmp_path}", "--set", "asterisk.mode=system",
                 "kpi", "reconcile", "--from", "2026-11-18T00:00", "--to", "2026-11-19T00:00"])
    out = capsys.readouterr().out
    assert code == 0
    assert "7 line(s) read, 1 malformed" in out and "queue_log line 7: expected at least 5 fields" in out
    assert "1 call(s) completed from the queue log" in out and "1.1: queue=hotline, answered_at=" in out
    assert "1.1: agent: recorded '1002', queue log '1001'" in out

    async def stored() -> Call:
        async with engine.connect() as connection:
            row = (await connection.execute(select(Call))).one()
        await engine.dispose()
        return Call(**row._asdict())

    call = asyncio.run(stored())
    assert (call.talk_seconds, call.wait_seconds, call.agent) == (40.0, 11.0, "1002")
