"""PINs are stored as argon2id hashes (older scrypt hashes still verify); a PIN is digits so that it can be
keyed on a phone too. Hashing takes tens of milliseconds on purpose: log-ins verify on the hashing threads
(`verify_pin_off_loop`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ivr.web.passwords import hash_password, off_loop, verify_off_loop, verify_password

SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_pin(length: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def hash_pin(pin: str) -> str:
    return hash_password(pin)


def verify_pin(pin: str, stored: str) -> bool:
    if stored.startswith("$argon2"):
        return verify_password(pin, stored)
    return _verify_scrypt(pin, stored)


async def verify_pin_off_loop(pin: str, stored: str | None) -> bool:
    """verify_pin on the hashing threads; no stored hash (no such agent) costs a dummy verification."""
    if stored is not None and not stored.startswith("$argon2"):
        return await off_loop(_verify_scrypt, pin, stored)
    return await verify_off_loop(pin, stored)


def _verify_scrypt(pin: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    try:
        salt_bytes, digest_bytes = base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
    except ValueError:  # binascii.Error: a damaged hash never matches
        return False
    if scheme != "scrypt" or not salt_bytes:
        return False
    return hmac.compare_digest(hashlib.scrypt(pin.encode(), salt=salt_bytes, **SCRYPT), digest_bytes)
