"""Passwords and PINs are stored as argon2id hashes.

The cost is a setting (web.password_memory_kib, web.password_time_cost), applied once at start by `configure`;
a hash made with other costs still verifies, and is re-made at the next log-in (`needs_rehash`).
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def configure(memory_kib: int, time_cost: int) -> None:
    global _hasher
    _hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return not stored.startswith("$argon2") or _hasher.check_needs_rehash(stored)


def new_password() -> str:
    """A generated first password (the user changes it): 16 characters, no look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))
