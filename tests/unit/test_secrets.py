"""Secrets: generated on first setup, kept private, stable afterwards, never hard-coded."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from ivr.secrets import SecretsError, ensure_secrets, load_secrets
from ivr.settings import Settings, SipSettings


def test_first_setup_generates_private_unique_secrets(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    secrets = ensure_secrets(settings)
    assert stat.S_IMODE(settings.secrets_file.stat().st_mode) == 0o600
    assert len(secrets.ami_password) >= 20
    assert sorted(secrets.seat_passwords) == settings.seat_numbers
    assert len(set(secrets.seat_passwords.values())) == 40


def test_secrets_are_stable_and_new_agents_get_new_passwords(tmp_path: Path) -> None:
    first = ensure_secrets(Settings(data_dir=tmp_path))
    assert ensure_secrets(Settings(data_dir=tmp_path)) == first
    bigger = Settings(data_dir=tmp_path, sip=SipSettings(seat_count=42))
    grown = ensure_secrets(bigger)
    assert grown.ami_password == first.ami_password
    assert grown.seat_passwords["8001"] == first.seat_passwords["8001"]
    assert "8042" in grown.seat_passwords


def test_a_secrets_file_others_can_read_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    ensure_secrets(settings)
    settings.secrets_file.chmod(0o644)
    with pytest.raises(SecretsError, match="can be read by other users"):
        load_secrets(settings.secrets_file)


def test_two_installations_get_different_secrets(tmp_path: Path) -> None:
    one = ensure_secrets(Settings(data_dir=tmp_path / "a"))
    two = ensure_secrets(dataclasses.replace(Settings(), data_dir=tmp_path / "b"))
    assert one.ami_password != two.ami_password


def test_the_sms_gateways_secrets_are_generated_and_the_carriers_password_is_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = ensure_secrets(settings)
    assert all(len(value) >= 20 for value in (first.kannel_admin_password, first.sms_password, first.sms_token))
    assert first.smpp_password == "", "the carrier's password is the operator's to write"
    text = settings.secrets_file.read_text().replace('smpp_password = ""', 'smpp_password = "from \\"carrier\\""')
    settings.secrets_file.write_text(text)
    again = ensure_secrets(settings)
    assert again.smpp_password == 'from "carrier"' and again.sms_token == first.sms_token
