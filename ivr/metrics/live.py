"""The hotline's own figures, read from its parts at each scrape: calls, queues, agents, FastAGI, AMI and the
call writer (metric by metric in docs/operations.md)."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ivr.ami.client import AmiClient
from ivr.ami.originate import Originator
from ivr.ami.queue_state import ON_A_CALL, MemberState, QueueState
from ivr.calls.store import CallWriter
from ivr.calls.tracker import CallRecord, CallTracker
from ivr.fastagi import FastAgiServer
from ivr.metrics.collector import Metrics

NO_REASON = "unspecified"


def watch(metrics: Metrics, tracker: CallTracker, ami: AmiClient, fastagi: FastAgiServer[Any], writer: CallWriter,
          seat_queue: str) -> None:
    """Register the live sources; `seat_queue` is the queue every logged-in seat is in (settings.direct_queue)."""
    watch_calls(metrics, tracker)
    watch_queues(metrics, ami.queue_state, tracker)
    watch_agents(metrics, ami.queue_state, seat_queue)
    watch_fastagi(metrics, fastagi)
    watch_ami(metrics, ami)
    watch_call_writer(metrics, writer)


def watch_calls(metrics: Metrics, tracker: CallTracker) -> None:
    metrics.add("hotline_calls_in_progress", "Citizens' calls on the hotline now, from ringing to hang-up",
                lambda: len(tracker.live))

    def finished(record: CallRecord) -> None:
        metrics.calls_finished.labels(record.outcome).inc()

    tracker.finished_listeners.append(finished)


def watch_queues(metrics: Metrics, state: QueueState, tracker: CallTracker) -> None:
    metrics.add("hotline_queue_waiting", "Callers waiting in the queue now", lambda: waiting(state), ("queue",))
    metrics.add("hotline_queue_longest_wait_seconds", "How long the longest-waiting caller in the queue has waited "
                "(since first joining it); 0 when nobody waits", lambda: longest_waits(state, tracker), ("queue",))
    metrics.add("hotline_queue_state_stale", "1 while the queue state is not known to be current (AMI away, "
                "not re-read yet): the queue and agent figures are then the last known", lambda: float(state.stale))


def watch_agents(metrics: Metrics, state: QueueState, seat_queue: str) -> None:
    def seats() -> list[MemberState]:
        view = state.queues.get(seat_queue)
        return list(view.members.values()) if view else []

    metrics.add("hotline_agents_logged_in", "Seats with an agent logged in", lambda: len(seats()))
    metrics.add("hotline_agents_available", "Logged-in seats free to take a call (not paused, phone idle)",
                lambda: sum(seat.available for seat in seats()))
    metrics.add("hotline_agents_in_call", "Logged-in seats whose phone is on a call",
                lambda: sum(seat.status in ON_A_CALL for seat in seats()))
    metrics.add("hotline_agents_paused", "Paused seats (示忙), by the reason given", lambda: paused(seats()),
                ("reason",))


def watch_fastagi(metrics: Metrics, server: FastAgiServer[Any]) -> None:
    metrics.add("hotline_fastagi_up", "1 while the FastAGI server listens", lambda: float(server.listening))
    metrics.add("hotline_fastagi_requests", "FastAGI sessions ended, by script and how they ended (ok, hangup, "
                "an AgiError's class, handler-timeout, handler-crashed, unknown-script)",
                lambda: counts(server.requests), ("script", "result"), kind="counter")
    metrics.add("hotline_fastagi_protocol_errors", "FastAGI protocol errors by kind (AgiHeaderError: a session "
                "refused; other AgiError classes: a handler stopped by one)",
                lambda: counts(server.protocol_errors), ("kind",), kind="counter")


def watch_ami(metrics: Metrics, client: AmiClient) -> None:
    metrics.add("hotline_ami_connected", "1 while logged in to Asterisk's manager interface",
                lambda: float(client.connected))
    metrics.add("hotline_ami_reconnects", "AMI logins after the first since the server started",
                lambda: max(client.logins - 1, 0), kind="counter")
    metrics.add("hotline_ami_action_failures", "AMI actions that failed, by action and error (AmiNotConnected, "
                "AmiActionTimeout, AmiActionFailed)", lambda: counts(client.action_failures), ("action", "error"),
                kind="counter")


def watch_outbound(metrics: Metrics, originator: Originator) -> None:
    metrics.add("hotline_outbound_refused", "Calls out not dialled because the outbound rules refuse the number "
                "(routing/dialable.py), by purpose (callback, survey, handoff) and the number's kind",
                lambda: counts(originator.refused), ("purpose", "kind"), kind="counter")


def watch_call_writer(metrics: Metrics, writer: CallWriter) -> None:
    metrics.add("hotline_call_writer_backlog", "Calls' rows waiting to be written to the database (kept in the "
                "spool file if the server stops before)", lambda: len(writer.pending))
    metrics.add("hotline_call_writer_failing", "1 while the last write of call rows failed (database away)",
                lambda: float(writer.last_error is not None))
    metrics.add("hotline_call_rows_written", "Call rows written to the database", lambda: writer.rows_written,
                kind="counter")
    metrics.add("hotline_call_rows_rejected", "Call rows the database refused for good (not for a connection "
                "error), set aside in the rejected file with the reason", lambda: writer.rows_rejected,
                kind="counter")


def waiting(state: QueueState) -> dict[tuple[str, ...], float]:
    return {(name,): len(view.waiting) for name, view in state.queues.items()}


def longest_waits(state: QueueState, tracker: CallTracker, now: datetime | None = None) -> dict[tuple[str, ...], float]:
    """The tracker knows when each caller first joined; a caller it does not know (the queue state's re-read
    after a reconnect found them) is left out."""
    moment = now or datetime.now(UTC)
    result: dict[tuple[str, ...], float] = {}
    for name, view in state.queues.items():
        joined = [r.enqueued_at for r in (tracker.live.get(u) for u in view.waiting) if r and r.enqueued_at]
        result[(name,)] = max((round((moment - at).total_seconds(), 3) for at in joined), default=0.0)
    return result


def paused(seats: Iterable[MemberState]) -> dict[tuple[str, ...], float]:
    reasons = collections.Counter(seat.paused_reason or NO_REASON for seat in seats if seat.paused)
    return {(reason,): count for reason, count in reasons.items()}


def counts(counter: Mapping[Any, int]) -> dict[tuple[str, ...], float]:
    """A collections.Counter keyed by a label value or a tuple of them, as samples."""
    return {key if isinstance(key, tuple) else (key,): value for key, value in counter.items()}
