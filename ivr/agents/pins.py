"""PINs are stored as argon2id hashes (older scrypt hashes still verify); a PIN is digits so that it can be
keyed on a phone too. Hashing takes tens of milliseconds on purpose: callers run it off the event loop."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ivr.web.passwords import hash_password, verify_password

SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_pin(length: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def hash_pin(pin: str) -> str:
    return hash_password(pin)


def verify_pin(pin: str, stored: str) -> bool:
    if stored.startswith("$argon2"):
        return verify_password(pin, stored)
    return _verify_scrypt(pin, stored)


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
