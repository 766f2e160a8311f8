"""The durable transcription job's rules: claims, leases, retries with back-off, exactly one success."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.transcription_jobs import (
    DONE,
    FAILED,
    QUEUED,
    Job,
    NotClaimable,
    Policy,
    backoff,
    claim,
    claimable,
    fail,
    give_up_if_abandoned,
    renew,
    succeed,
)

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
POLICY = Policy()


def test_a_worker_killed_mid_job_leaves_it_to_another_once_the_lease_runs_out() -> None:
    held = claim(Job(), "worker-a", NOW, POLICY)
    assert not claimable(held, NOW + POLICY.lease - timedelta(seconds=1), POLICY)
    taken = claim(held, "worker-b", NOW + POLICY.lease, POLICY)
    assert (taken.worker, taken.attempts) == ("worker-b", 2)
    with pytest.raises(NotClaimable):
        renew(taken, "worker-a", NOW + POLICY.lease, POLICY)  # the first worker, back from a stall
    with pytest.raises(NotClaimable, match="not stored twice"):
        succeed(taken, "worker-a")
    assert succeed(taken, "worker-b").state == DONE


def test_a_renewed_lease_keeps_a_long_decode_with_its_worker() -> None:
    held = claim(Job(), "worker-a", NOW, POLICY)
    later = NOW + POLICY.lease - timedelta(seconds=5)
    held = renew(held, "worker-a", later, POLICY)
    assert not claimable(held, NOW + POLICY.lease + timedelta(seconds=5), POLICY)


def test_failures_are_retried_with_a_doubling_back_off_then_fail_visibly() -> None:
    job, now = Job(), NOW
    for attempt in range(1, POLICY.max_attempts + 1):
        job = fail(claim(job, "w", now, POLICY), "w", f"model busy ({attempt})", now, POLICY)
        if attempt < POLICY.max_attempts:
            assert job.state == QUEUED and job.not_before == now + backoff(attempt, POLICY)
            assert not claimable(job, job.not_before - timedelta(seconds=1), POLICY)
            now = job.not_before
    assert (job.state, job.reason) == (FAILED, f"model busy ({POLICY.max_attempts})")
    assert [backoff(n, POLICY).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(20, POLICY) == POLICY.longest_retry


def test_a_corrupt_file_fails_at_once_with_its_reason() -> None:
    job = fail(claim(Job(), "w", NOW, POLICY), "w", "not a WAV file: no RIFF header", NOW, POLICY, retryable=False)
    assert (job.state, job.attempts, job.reason) == (FAILED, 1, "not a WAV file: no RIFF header")
    assert not claimable(job, NOW + timedelta(days=1), POLICY)


STEPS = st.lists(st.tuples(st.sampled_from(["claim", "renew", "succeed", "fail"]), st.sampled_from(["a", "b"]),
                           st.integers(0, 600)), max_size=40)


@given(STEPS)
def test_whatever_workers_do_a_job_succeeds_at_most_once_and_ends_done_or_failed(
        steps: list[tuple[str, str, int]]) -> None:
    job, now, successes = Job(), NOW, 0
    for action, worker, seconds in steps:
        now += timedelta(seconds=seconds)
        try:
            if action == "claim":
                job = claim(job, worker, now, POLICY)
            elif action == "renew":
                job = renew(job, worker, now, POLICY)
            elif action == "succeed":
                job = succeed(job, worker)
                successes += 1
            else:
                job = fail(job, worker, "x", now, POLICY)
        except NotClaimable:
            continue
        assert job.attempts <= POLICY.max_attempts
    job = give_up_if_abandoned(job, now + POLICY.lease, POLICY)
    assert successes <= 1
    if job.state in (DONE, FAILED):
        assert not claimable(job, now + timedelta(days=365), POLICY)


def test_a_job_whose_worker_dies_every_time_fails_instead_of_looping() -> None:
    job, now = Job(), NOW
    for _ in range(POLICY.max_attempts):
        job = claim(job, "w", now, POLICY)
        now += POLICY.lease  # the worker was killed: the lease runs out
    assert not claimable(job, now, POLICY)
    job = give_up_if_abandoned(job, now, POLICY)
    assert (job.state, job.reason) == (FAILED, "the worker stopped during each of the 5 attempts")
