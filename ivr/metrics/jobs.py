"""The durable jobs waiting or failed, counted in the database before each scrape.

Only states that come and go are counted (a job done, a survey answered stays forever: counting those would
grow the scrape's cost with the years and say nothing an alert needs); every state listed is exported, 0 too,
so that a series exists before its first job.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import InstrumentedAttribute

from ivr.db.models import Callback, SmsMessage, Survey, TranscriptionJob
from ivr.metrics.collector import Metrics
from ivr.sms import delivery
from ivr.surveys.store import LIVE as LIVE_SURVEYS
from routing import transcription_jobs as jobs
from routing.callbacks import NOT_DIALLED

TRANSCRIPTION_STATES = (jobs.QUEUED, jobs.RUNNING, jobs.FAILED)
CALLBACK_STATES = ("pending", "dialling", NOT_DIALLED)
SMS_STATES = (delivery.QUEUED, delivery.SENDING, delivery.UNKNOWN, delivery.FAILED)


def watch_jobs(metrics: Metrics, engine: AsyncEngine) -> None:
    metrics.use_database(engine)
    metrics.add_database("hotline_transcription_jobs", "Voicemail transcription jobs queued, running or failed",
                         transcription_jobs, ("status",))
    metrics.add_database("hotline_callbacks", "Callbacks to citizens pending, being dialled, or never dialled (the "
                         "number refused)", callbacks, ("status",))
    metrics.add_database("hotline_surveys", "Return visits and campaign surveys due, calling or waiting for an "
                         "SMS reply", surveys, ("status",))
    metrics.add_database("hotline_sms_messages", "Outgoing SMS queued, being sent, of unknown fate or failed",
                         sms_messages, ("status",))


async def transcription_jobs(connection: AsyncConnection) -> dict[tuple[str, ...], float]:
    return await count_by(connection, TranscriptionJob.state, TRANSCRIPTION_STATES)


async def callbacks(connection: AsyncConnection) -> dict[tuple[str, ...], float]:
    return await count_by(connection, Callback.status, CALLBACK_STATES)


async def surveys(connection: AsyncConnection) -> dict[tuple[str, ...], float]:
    return await count_by(connection, Survey.status, LIVE_SURVEYS)


async def sms_messages(connection: AsyncConnection) -> dict[tuple[str, ...], float]:
    return await count_by(connection, SmsMessage.status, SMS_STATES, SmsMessage.direction == delivery.OUT)


async def count_by(connection: AsyncConnection, column: InstrumentedAttribute[str], states: Iterable[str],
                   *where: Any) -> dict[tuple[str, ...], float]:
    """Rows in each of `states` (each column is the first of an index, so this reads the index only)."""
    wanted = list(states)
    rows = await connection.execute(
        select(column, func.count()).where(column.in_(wanted), *where).group_by(column))
    counts: dict[tuple[str, ...], float] = {(state,): 0.0 for state in wanted}
    counts.update({(str(state),): float(count) for state, count in rows})
    return counts
