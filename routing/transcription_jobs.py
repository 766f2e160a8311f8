"""The rules of durable transcription jobs (issue 5), apart from the database that keeps them.

A job is queued when a voicemail is stored; a worker claims it for a lease and renews the lease while it
decodes; a worker killed mid-job stops renewing, so the job's lease runs out and another worker claims it
again. A failed attempt is retried after a back-off that doubles, up to a cap; after the last attempt the
job is failed, visibly, with the reason of its last attempt. A job done is never run again, so each voicemail
gets exactly one transcript.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class Policy:
    lease: timedelta = timedelta(minutes=2)  # a worker renews well within this while it decodes
    first_retry: timedelta = timedelta(seconds=30)
    longest_retry: timedelta = timedelta(minutes=30)
    max_attempts: int = 5


@dataclass(frozen=True)
class Job:
    state: str = QUEUED
    attempts: int = 0  # attempts started
    not_before: datetime | None = None  # a retry waits until then
    lease_until: datetime | None = None  # while running: the claim holds until then
    worker: str | None = None
    reason: str | None = None  # why the last attempt failed


class NotClaimable(ValueError):
    """The job is not for this worker now; the message says why."""


def claimable(job: Job, now: datetime, policy: Policy) -> bool:
    """Queued and due, or running under a lease that ran out (its worker died) with attempts left."""
    if job.state == QUEUED:
        return job.not_before is None or job.not_before <= now
    return _abandoned(job, now) and job.attempts < policy.max_attempts


def give_up_if_abandoned(job: Job, now: datetime, policy: Policy) -> Job:
    """A job whose worker stopped during every attempt (audio that kills the decoder) fails, visibly, instead
    of being claimed for ever."""
    if _abandoned(job, now) and job.attempts >= policy.max_attempts:
        return replace(job, state=FAILED, lease_until=None, worker=None,
                       reason=f"the worker stopped during each of the {job.attempts} attempts")
    return job


def _abandoned(job: Job, now: datetime) -> bool:
    return job.state == RUNNING and job.lease_until is not None and job.lease_until <= now


def claim(job: Job, worker: str, now: datetime, policy: Policy) -> Job:
    if not claimable(job, now, policy):
        raise NotClaimable(f"job is {job.state}" + (f" until {job.not_before.isoformat()}" if job.not_before and
                                                   job.state == QUEUED else ""))
    return replace(job, state=RUNNING, attempts=job.attempts + 1, worker=worker, lease_until=now + policy.lease)


def renew(job: Job, worker: str, now: datetime, policy: Policy) -> Job:
    """A worker still decoding keeps its claim; a worker whose lease was taken over learns it here."""
    if job.state != RUNNING or job.worker != worker:
        raise NotClaimable(f"job is no longer held by {worker}")
    return replace(job, lease_until=now + policy.lease)


def succeed(job: Job, worker: str) -> Job:
    if job.state != RUNNING or job.worker != worker:
        raise NotClaimable(f"job is no longer held by {worker}: its transcript is not stored twice")
    return replace(job, state=DONE, lease_until=None, reason=None)


def fail(job: Job, worker: str, reason: str, now: datetime, policy: Policy, retryable: bool = True) -> Job:
    """A failed attempt: retried after the back-off, or failed for good (a corrupt file is not retried)."""
    if job.state != RUNNING or job.worker != worker:
        raise NotClaimable(f"job is no longer held by {worker}")
    if not retryable or job.attempts >= policy.max_attempts:
        return replace(job, state=FAILED, lease_until=None, reason=reason)
    return replace(job, state=QUEUED, lease_until=None, worker=None, reason=reason,
                   not_before=now + backoff(job.attempts, policy))


def backoff(attempts: int, policy: Policy) -> timedelta:
    """30 s, 1 min, 2 min, 4 min … up to the cap, after the 1st, 2nd, 3rd … failed attempt."""
    doubled: timedelta = policy.first_retry * (2 ** max(attempts - 1, 0))
    return min(doubled, policy.longest_retry)
