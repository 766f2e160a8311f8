"""Voicemail in the database: each recording taken in as a draft work order with its transcription job, the
jobs claimed under leases by workers (routing.transcription_jobs holds the rules), and one transcript each.

On PostgreSQL a claim locks the job row with FOR UPDATE SKIP LOCKED, so workers on several machines never wait
for each other nor take the same job; every state change is also a conditional UPDATE (the state, attempts and
worker it was decided on), which is what keeps two claimers apart on SQLite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.db.engine import upsert_insert
from ivr.db.models import Attachment, OrderCall, Transcript, TranscriptionJob, WorkOrder, as_utc
from ivr.settings import TranscriptionSettings
from ivr.voicemail.decoder import Decoded
from ivr.workorders.actors import SYSTEM, Actor
from ivr.workorders.service import record_event
from ivr.workorders.store import order_number
from routing import lifecycle
from routing import transcription_jobs as jobs

VOICEMAIL = Actor("voicemail", SYSTEM)  # who the voicemail path writes into an order's history
CLAIM_TRIES = 16  # rows one claim looks at (others taken meanwhile, jobs given up) before it waits for the next poll


def policy_of(settings: TranscriptionSettings) -> jobs.Policy:
    return jobs.Policy(lease=timedelta(seconds=settings.lease_seconds),
                       first_retry=timedelta(seconds=settings.first_retry_seconds),
                       longest_retry=timedelta(seconds=settings.longest_retry_seconds),
                       max_attempts=settings.max_attempts)


@dataclass(frozen=True)
class Recording:
    uniqueid: str  # the call's; also the file's name
    caller: str | None
    path: Path
    recorded_at: datetime


@dataclass(frozen=True)
class Claimed:
    id: int
    order_id: int
    audio_path: str
    attempts: int


class VoicemailStore:
    def __init__(self, engine: AsyncEngine, policy: jobs.Policy, timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.policy = policy
        self.zone = ZoneInfo(timezone)
        self._insert = upsert_insert(engine)
        self._skip_locked = engine.dialect.name == "postgresql"

    # Taking recordings in

    async def take_in(self, recording: Recording, now: datetime) -> int:
        """The draft order, its recording and its transcription job, in one transaction; the same recording
        taken in again (the hang-up handler and the folder scan both report it) changes nothing."""
        size = recording.path.stat().st_size if recording.path.exists() else 0
        statement = self._insert(WorkOrder).values(
            status=lifecycle.DRAFT, source="voicemail", caller_number=recording.caller,
            call_uniqueid=recording.uniqueid, audio_path=str(recording.path), created_at=recording.recorded_at,
            updated_at=now,
        ).on_conflict_do_nothing(index_elements=["call_uniqueid"]).returning(WorkOrder.id)
        async with self.engine.begin() as connection:
            order_id = (await connection.execute(statement)).scalar_one_or_none()
            if order_id is None:
                existing = await connection.execute(
                    select(WorkOrder.id).where(WorkOrder.call_uniqueid == recording.uniqueid))
                return int(existing.scalar_one())
            await connection.execute(update(WorkOrder).where(WorkOrder.id == order_id)
                                     .values(number=order_number(order_id, recording.recorded_at, self.zone)))
            await connection.execute(insert(OrderCall).values(order_id=order_id, call_uniqueid=recording.uniqueid))
            await connection.execute(insert(Attachment).values(
                order_id=order_id, kind="recording", name=recording.path.name, path=str(recording.path),
                content_type="audio/wav", size=size, added_by=VOICEMAIL.name, added_at=now))
            await connection.execute(insert(TranscriptionJob).values(
                order_id=order_id, audio_path=str(recording.path), state=jobs.QUEUED, attempts=0,
                created_at=now, updated_at=now))
            await record_event(connection, order_id, VOICEMAIL, "create", None, lifecycle.DRAFT, now,
                         data={"channel": "voicemail", "bytes": size})
        return int(order_id)

    async def taken_in(self, uniqueids: list[str]) -> set[str]:
        if not uniqueids:
            return set()
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(WorkOrder.call_uniqueid).where(
                WorkOrder.call_uniqueid.in_(uniqueids)))
        return {str(row[0]) for row in rows}

    # Jobs

    async def claim(self, worker: str, now: datetime) -> Claimed | None:
        """The oldest job due, now held by `worker`; a job whose worker died in every attempt is failed here."""
        # One row at a time: a lock on a row this claim does not take would keep other workers off it.
        query = select(TranscriptionJob).where(_due(now)).order_by(TranscriptionJob.id).limit(1)
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        async with self.engine.begin() as connection:
            for _ in range(CLAIM_TRIES):
                row = (await connection.execute(query)).one_or_none()
                if row is None:
                    return None
                current = _job(row)
                given_up = jobs.give_up_if_abandoned(current, now, self.policy)
                if given_up is not current:
                    if await self._write(connection, row, given_up, now):
                        await record_event(connection, row.order_id, VOICEMAIL, "transcription_failed", None, None,
                                           now, note=given_up.reason)
                elif await self._write(connection, row, jobs.claim(current, worker, now, self.policy), now):
                    return Claimed(row.id, row.order_id, row.audio_path, current.attempts + 1)
        return None

    async def renew(self, job_id: int, worker: str, now: datetime) -> None:
        """Keeps the claim; raises NotClaimable when another worker has taken the job over meanwhile."""
        async with self.engine.begin() as connection:
            row = await self._locked(connection, job_id)
            await self._write_or_refuse(connection, row, jobs.renew(_job(row), worker, now, self.policy), now)

    async def fail(self, job_id: int, worker: str, reason: str, now: datetime, retryable: bool = True) -> str:
        """The attempt failed: queued again after the back-off, or failed for good. Returns the new state."""
        async with self.engine.begin() as connection:
            row = await self._locked(connection, job_id)
            after = jobs.fail(_job(row), worker, reason, now, self.policy, retryable)
            await self._write_or_refuse(connection, row, after, now)
            if after.state == jobs.FAILED:
                await record_event(connection, row.order_id, VOICEMAIL, "transcription_failed", None, None, now,
                                   note=reason)
        return after.state

    async def succeed(self, job_id: int, worker: str, decoded: Decoded, findings: dict[str, Any], model: str,
                      now: datetime) -> None:
        """The transcript and what the draft takes from it, stored with the job's end in one transaction: a
        worker that lost its claim stores nothing, so each voicemail has exactly one transcript."""
        async with self.engine.begin() as connection:
            row = await self._locked(connection, job_id)
            await self._write_or_refuse(connection, row, jobs.succeed(_job(row), worker), now)
            await connection.execute(insert(Transcript).values(
                order_id=row.order_id, job_id=job_id, text=decoded.text,
                words=json.dumps(decoded.words, ensure_ascii=False), confidence=decoded.confidence,
                audio_seconds=decoded.audio_seconds, decode_seconds=round(decoded.decode_seconds, 3), model=model,
                findings=json.dumps(findings, ensure_ascii=False), worker=worker, created_at=now))
            await self._fill_draft(connection, row.order_id, decoded.text, findings, now)

    async def _fill_draft(self, connection: AsyncConnection, order_id: int, text: str, findings: dict[str, Any],
                          now: datetime) -> None:
        """The draft gets the text and the suggestions where nobody has written anything yet."""
        order = (await connection.execute(select(WorkOrder).where(WorkOrder.id == order_id))).one()
        if order.status != lifecycle.DRAFT:
            return
        values: dict[str, Any] = {"updated_at": now}
        if not order.content:
            values["content"] = text
        if order.type == "consultation" or not order.type:
            values["type"] = findings.get("type") or "consultation"
        if not order.topic and findings.get("topics"):
            values["topic"] = findings["topics"][0]["code"]
        if not order.address and findings.get("addresses"):
            values["address"] = findings["addresses"][0]
        await connection.execute(update(WorkOrder).where(WorkOrder.id == order_id).values(**values))
        await record_event(connection, order_id, VOICEMAIL, "transcribe", None, None, now,
                     data={k: v for k, v in values.items() if k in ("type", "topic", "address")})

    async def retry_failed(self, now: datetime, order_id: int | None = None) -> int:
        """Failed jobs queued again with fresh attempts (after a model was installed, a file restored)."""
        condition = TranscriptionJob.state == jobs.FAILED
        if order_id is not None:
            condition = and_(condition, TranscriptionJob.order_id == order_id)
        async with self.engine.begin() as connection:
            result = await connection.execute(update(TranscriptionJob).where(condition).values(
                state=jobs.QUEUED, attempts=0, not_before=None, worker=None, lease_until=None, updated_at=now))
        return int(result.rowcount)

    async def waiting_drafts(self, limit: int = 50) -> list[dict[str, Any]]:
        """The voicemail drafts no agent has dealt with yet, newest first: the order, its transcription job, the
        transcript and the recording's attachment, as the desk shows them."""
        query = (select(WorkOrder, TranscriptionJob.state.label("job_state"), TranscriptionJob.attempts,
                        TranscriptionJob.reason, TranscriptionJob.not_before, Transcript.text.label("transcript"),
                        Transcript.confidence, Transcript.audio_seconds, Transcript.findings, Transcript.model,
                        Attachment.id.label("recording_id"))
                 .join(TranscriptionJob, TranscriptionJob.order_id == WorkOrder.id)
                 .outerjoin(Transcript, Transcript.order_id == WorkOrder.id)
                 .outerjoin(Attachment, and_(Attachment.order_id == WorkOrder.id, Attachment.kind == "recording"))
                 .where(WorkOrder.status == lifecycle.DRAFT, WorkOrder.source == "voicemail")
                 .order_by(WorkOrder.id.desc()).limit(limit))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_draft(row) for row in rows]

    async def due(self, now: datetime) -> int:
        """How many jobs a worker could claim now."""
        async with self.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).where(_due(now)))).scalar_one())

    async def counts(self, drafts_only: bool = False) -> dict[str, int]:
        """Jobs by state; `drafts_only`: of the voicemails nobody has dealt with yet (the desk's panel)."""
        query = select(TranscriptionJob.state, func.count()).group_by(TranscriptionJob.state)
        if drafts_only:
            query = query.join(WorkOrder, WorkOrder.id == TranscriptionJob.order_id).where(
                WorkOrder.status == lifecycle.DRAFT)
        async with self.engine.connect() as connection:
            rows = await connection.execute(query)
        return {jobs.QUEUED: 0, jobs.RUNNING: 0, jobs.DONE: 0, jobs.FAILED: 0, **{s: int(n) for s, n in rows}}

    async def expired_recordings(self, before: datetime) -> list[tuple[int, str]]:
        """(order id, recording) of voicemail orders no longer open whose call is older than `before`."""
        query = (select(WorkOrder.id, WorkOrder.audio_path)
                 .where(WorkOrder.source == "voicemail", WorkOrder.audio_path.is_not(None),
                        WorkOrder.status.not_in(sorted(lifecycle.OPEN)), WorkOrder.created_at < before)
                 .limit(500))
        async with self.engine.connect() as connection:
            return [(int(order_id), str(path)) for order_id, path in await connection.execute(query)]

    async def forget_recording(self, order_id: int, now: datetime, days: int) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(WorkOrder).where(WorkOrder.id == order_id).values(audio_path=None))
            await connection.execute(delete(Attachment).where(
                Attachment.order_id == order_id, Attachment.kind == "recording"))
            await record_event(connection, order_id, VOICEMAIL, "recording_deleted", None, None, now,
                               note=f"retention: {days} days")

    async def _locked(self, connection: AsyncConnection, job_id: int) -> Any:
        query = select(TranscriptionJob).where(TranscriptionJob.id == job_id)
        if self._skip_locked:
            query = query.with_for_update()
        row = (await connection.execute(query)).one_or_none()
        if row is None:
            raise jobs.NotClaimable(f"no transcription job {job_id}")
        return row

    async def _write(self, connection: AsyncConnection, row: Any, after: jobs.Job, now: datetime) -> bool:
        """The job's new state, written only if nobody changed it since it was read."""
        result = await connection.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == row.id, TranscriptionJob.state == row.state,
                   TranscriptionJob.attempts == row.attempts, _same_worker(row.worker))
            .values(state=after.state, attempts=after.attempts, not_before=after.not_before,
                    lease_until=after.lease_until, worker=after.worker, reason=after.reason, updated_at=now,
                    finished_at=now if after.state in (jobs.DONE, jobs.FAILED) else None))
        return bool(result.rowcount == 1)

    async def _write_or_refuse(self, connection: AsyncConnection, row: Any, after: jobs.Job, now: datetime) -> None:
        if not await self._write(connection, row, after, now):
            raise jobs.NotClaimable(f"job {row.id} changed meanwhile")


def _due(now: datetime) -> Any:
    """Queued and past its back-off, or running under a lease that ran out (its worker died)."""
    return or_(and_(TranscriptionJob.state == jobs.QUEUED,
                    or_(TranscriptionJob.not_before.is_(None), TranscriptionJob.not_before <= now)),
               and_(TranscriptionJob.state == jobs.RUNNING, TranscriptionJob.lease_until <= now))


def _same_worker(worker: str | None) -> Any:
    return TranscriptionJob.worker.is_(None) if worker is None else TranscriptionJob.worker == worker


def _job(row: Any) -> jobs.Job:
    return jobs.Job(state=row.state, attempts=row.attempts,
                    not_before=as_utc(row.not_before) if row.not_before else None,
                    lease_until=as_utc(row.lease_until) if row.lease_until else None,
                    worker=row.worker, reason=row.reason)


def _draft(row: Any) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return as_utc(value).isoformat() if value else None

    return {
        "id": row.id, "number": row.number, "caller_number": row.caller_number, "at": moment(row.created_at),
        "type": row.type, "topic": row.topic, "address": row.address, "content": row.content,
        "recording": row.recording_id,
        "job": {"state": row.job_state, "attempts": row.attempts, "reason": row.reason,
                "retry_at": moment(row.not_before) if row.job_state == jobs.QUEUED else None},
        "transcript": None if row.transcript is None else {
            "text": row.transcript, "confidence": row.confidence, "seconds": row.audio_seconds, "model": row.model,
            "findings": json.loads(row.findings)},
    }
