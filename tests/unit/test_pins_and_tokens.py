"""PINs (salted argon2id hashes; older scrypt hashes still verify) and the desk's signed session tokens."""

from __future__ import annotations

import pytest

from ivr.agents.pins import hash_pin, new_pin, verify_pin
from ivr.web.auth import SESSION_SECONDS, check_token, issue_token

SECRET = "test-secret-0123456789"
NOW = 1_800_000_000.0


# PINs


def test_new_pin_is_six_digits_and_varies() -> None:
    pins = [new_pin() for _ in range(20)]
    assert all(len(pin) == 6 and pin.isdigit() and pin.isascii() for pin in pins)
    assert len(set(pins)) > 1
    assert len(new_pin(length=8)) == 8


def test_hash_is_salted_so_the_same_pin_hashes_differently() -> None:
    first, second = hash_pin("123456"), hash_pin("123456")
    assert first != second
    assert first.startswith("$argon2id$") and "123456" not in first
    assert verify_pin("123456", first) and verify_pin("123456", second)


def test_verify_accepts_the_right_pin_only() -> None:
    stored = hash_pin("204060")
    assert verify_pin("204060", stored)
    assert not verify_pin("204061", stored)
    assert not verify_pin("", stored)
    assert not verify_pin("2040600", stored)


@pytest.mark.parametrize(
    "stored", ["", "204060", "plain$text", "md5$AAAA$AAAA", "scrypt$$", "scrypt$a$b$c", "$argon2id$broken"])
def test_verify_rejects_a_stored_value_that_is_not_a_hash(stored: str) -> None:
    assert verify_pin("204060", stored) is False


def test_verify_rejects_a_hash_of_another_scheme_with_the_same_parts() -> None:
    stored = hash_pin("204060")
    assert not verify_pin("204060", stored.replace("$argon2id$", "$argon2x$"))


def test_verify_rejects_a_scrypt_hash_with_corrupt_base64() -> None:
    assert verify_pin("204060", "scrypt$abc$abc") is False


# Session tokens


def test_token_round_trip_names_the_agent() -> None:
    token = issue_token(SECRET, "1001", now=NOW)
    assert check_token(SECRET, token, now=NOW) == "1001"
    assert check_token(SECRET, token, now=NOW + SESSION_SECONDS - 1) == "1001"


def test_token_with_another_agent_id_is_rejected() -> None:
    token = issue_token(SECRET, "1001", now=NOW)
    _, expires, session_id, signature = token.split(".")
    assert check_token(SECRET, f"1002.{expires}.{session_id}.{signature}", now=NOW) is None


def test_token_with_a_later_expiry_is_rejected() -> None:
    token = issue_token(SECRET, "1001", now=NOW)
    agent_id, expires, session_id, signature = token.split(".")
    assert check_token(SECRET, f"{agent_id}.{int(expires) + 3600}.{session_id}.{signature}", now=NOW) is None


def test_token_with_a_changed_signature_is_rejected() -> None:
    token = issue_token(SECRET, "1001", now=NOW)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert check_token(SECRET, flipped, now=NOW) is None
    assert check_token(SECRET, token.rsplit(".", 1)[0] + ".", now=NOW) is None


def test_token_expires_after_one_shift() -> None:
    token = issue_token(SECRET, "1001", now=NOW)
    assert check_token(SECRET, token, now=NOW + SESSION_SECONDS) is None
    assert check_token(SECRET, token, now=NOW + 2 * SESSION_SECONDS) is None


def test_token_signed_with_another_secret_is_rejected() -> None:
    token = issue_token("another-secret", "1001", now=NOW)
    assert check_token(SECRET, token, now=NOW) is None


@pytest.mark.parametrize("token", ["", "1001", "1001.", "1001.abc.sig", ".1800000000.sig", "1001..sig", "...",
                                   "1001.1800000000.sid.sig", "1001.1800000000..sig", "...."])
def test_malformed_token_is_rejected(token: str) -> None:
    assert check_token(SECRET, token, now=NOW) is None


def test_token_with_a_non_ascii_signature_is_rejected() -> None:
    assert check_token(SECRET, "1001.1900000000.é", now=NOW) is None


def test_a_pin_hashed_with_scrypt_before_argon2_still_verifies() -> None:
    import base64
    import hashlib

    from ivr.agents.pins import SCRYPT

    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"204060", salt=salt, **SCRYPT)
    stored = "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()
    assert verify_pin("204060", stored) and not verify_pin("204061", stored)
