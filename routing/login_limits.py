"""When a log-in is refused for too many failures: one rule for every log-in (desk PIN, web password, phone *21).

Two counts, each in a window: failures of the account (an agent id, a web user) and failures from the source
address (a client's address, or the seat a phone log-in comes from).

* The address limit is strict: an address that failed `failures` times in the window is refused for every
  account until its lock ends. This is what stops guessing from one place.
* The account limit locks softly: after `failures` failures the account is locked for `lock_seconds`, doubling
  with each further failure up to `max_lock_seconds`, but the lock only refuses addresses that are failing too
  (one failure or more in their window). An address with no recent failure (the agent at their own desk) still
  gets through with the right PIN, so strangers' guesses cannot lock the owner out; each fresh address a guesser
  brings buys one try and is then failing itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ADDRESS = "address"


@dataclass(frozen=True)
class Limit:
    failures: int  # failures in the window that earn a lock
    window_seconds: int  # failures older than this are forgotten
    lock_seconds: int  # the first lock; it doubles with each further failure
    max_lock_seconds: int


LIMITS = {
    ADDRESS: Limit(failures=10, window_seconds=900, lock_seconds=900, max_lock_seconds=900),
    "account": Limit(failures=5, window_seconds=900, lock_seconds=30, max_lock_seconds=900),
}


@dataclass(frozen=True)
class Count:
    """One row of failures: how many since window_start, and the lock they earned."""

    failures: int
    window_start: datetime
    locked_until: datetime | None


def limit_of(kind: str) -> Limit:
    return LIMITS[ADDRESS if kind == ADDRESS else "account"]


def current(count: Count | None, limit: Limit, now: datetime) -> Count | None:
    """The count as it stands now: None once its window has passed and its lock has ended."""
    if count is None:
        return None
    window_over = count.window_start + timedelta(seconds=limit.window_seconds) <= now
    lock_over = count.locked_until is None or count.locked_until <= now
    return None if window_over and lock_over else count


def lock_after(failures: int, limit: Limit) -> int:
    """Seconds of lock that this many failures in the window earn (0: none yet)."""
    if failures < limit.failures:
        return 0
    doublings = min(failures - limit.failures, 30)
    return min(limit.lock_seconds << doublings, limit.max_lock_seconds)


def wait_seconds(account: Count | None, address: Count | None, now: datetime) -> int:
    """How long this address must wait before trying this account again (0: it may try now)."""
    waits = [0]
    if address is not None and address.locked_until is not None and address.locked_until > now:
        waits.append(_seconds_until(address.locked_until, now))
    address_failing = address is not None and address.failures > 0
    if account is not None and address_failing and account.locked_until is not None and account.locked_until > now:
        waits.append(_seconds_until(account.locked_until, now))
    return max(waits)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))
