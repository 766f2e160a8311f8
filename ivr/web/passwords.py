"""Passwords and PINs are stored as argon2id hashes.

The cost is a setting (web.password_memory_kib, web.password_time_cost), applied once at start by `configure`;
a hash made with other costs still verifies, and is re-made at the next log-in (`needs_rehash`).

Hashing is slow on purpose (0.1–0.3 s, 64 MiB), so the server runs it on its own two threads, not on the event
loop nor on asyncio's shared default pool: a burst of bad log-ins then queues for those two threads and cannot
starve the database driver, DNS or file work that share the default pool.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")
HASHING_THREADS = 2
_hasher = PasswordHasher()
_hashing = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="argon2")
_dummy_hash: str | None = None


def configure(memory_kib: int, time_cost: int) -> None:
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost)
    _dummy_hash = None
    _dummy()  # now, so that the first unknown account's log-in costs no more than the others


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def off_loop(work: Callable[[str, str], T], first: str, second: str) -> T:
    """Runs one hashing step on the hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, work, first, second)


async def hash_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hashing, hash_password, password)


async def verify_off_loop(password: str, stored: str | None) -> bool:
    """Verifies on the hashing threads. Without a stored hash (an unknown or inactive account) it verifies
    against a dummy hash of the same cost and answers False: a failure costs the same time either way, so the
    answer's timing does not tell which accounts exist."""
    if stored is None:
        await off_loop(verify_password, password, _dummy())
        return False
    return await off_loop(verify_password, password, stored)


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def needs_rehash(stored: str) -> bool:
    return not stored.startswith("$argon2") or _hasher.check_needs_rehash(stored)


def new_password() -> str:
    """A generated first password (the user changes it): 16 characters, no look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))
