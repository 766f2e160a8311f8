"""Groundwork for issue 6: Kannel's configuration from the settings and the secrets: loopback only, the
generated passwords, the token on incoming SMS, a file store, the carrier's SMPP; a value that would break the
file is refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.sms.kannel import KannelError, KannelLayout, render

SECRETS = Secrets("", {}, "", kannel_admin_password="adm", sms_password="snd", sms_token="tok", smpp_password="s3")


def test_kannel_listens_on_loopback_with_generated_passwords_and_passes_the_token(tmp_path: Path) -> None:
    text = render(Settings(data_dir=tmp_path), SECRETS, KannelLayout(tmp_path / "kannel"))
    assert 'admin-interface = "127.0.0.1"' in text and 'sendsms-interface = "127.0.0.1"' in text
    assert 'box-allow-ip = "127.0.0.1"' in text and 'connect-allow-ip = "127.0.0.1"' in text
    assert 'admin-password = "adm"' in text and 'password = "snd"' in text
    assert 'post-url = "http://127.0.0.1:8080/api/sms/incoming?token=tok&from=%p&to=%P&coding=%c' in text
    assert "get-url" not in text and "%a" not in text and "%b" not in text, "the text is the body, not in the URL"
    assert 'store-type = "file"' in text and f'store-location = "{tmp_path / "kannel" / "store"}"' in text
    assert 'smsc = "fake"' in text and "mo-recode = \"true\"" in text and 'global-sender = "12345"' in text


def test_every_kannel_port_is_bound_to_loopback_and_every_other_address_denied(tmp_path: Path) -> None:
    """Kannel's allow lists mean nothing without a deny list, and a port without its interface listens on every
    address: each listening group names loopback as its interface and denies every other address."""
    groups = _groups(render(Settings(data_dir=tmp_path), SECRETS, KannelLayout(tmp_path / "kannel")))
    core, fake, sendsms_user, smsbox = groups["core"], groups["smsc"], groups["sendsms-user"], groups["smsbox"]
    assert (core["admin-interface"], core["admin-allow-ip"], core["admin-deny-ip"]) == (
        "127.0.0.1", "127.0.0.1", "*.*.*.*")
    assert (core["smsbox-interface"], core["box-allow-ip"], core["box-deny-ip"]) == (
        "127.0.0.1", "127.0.0.1", "*.*.*.*")
    assert (fake["our-host"], fake["connect-allow-ip"]) == ("127.0.0.1", "127.0.0.1"), "connect-deny-ip is implied"
    assert (smsbox["sendsms-interface"], sendsms_user["user-allow-ip"], sendsms_user["user-deny-ip"]) == (
        "127.0.0.1", "127.0.0.1", "*.*.*.*")
    assert "%b" not in core["access-log-format"] and "%a" not in core["access-log-format"], "no message text"
    assert "[from:%p] [to:%P]" in core["access-log-format"]


def _groups(text: str) -> dict[str, dict[str, str]]:
    """kannel.conf's groups (the last of a name), each as its settings with the quotes taken off."""
    groups: dict[str, dict[str, str]] = {}
    for block in text.split("group = ")[1:]:
        name, *lines = block.strip().splitlines()
        groups[name] = {key: value.strip('"') for key, value in (line.split(" = ", 1) for line in lines)}
    return groups


def test_the_carriers_smpp_connection_and_a_value_kannel_conf_cannot_carry(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    smpp = dataclasses.replace(settings.sms, smsc="smpp", smpp_host="203.0.113.20", smpp_system_id="hotline12345")
    text = render(dataclasses.replace(settings, sms=smpp), SECRETS, KannelLayout(tmp_path))
    assert 'smsc = "smpp"' in text and 'host = "203.0.113.20"' in text and "port = 2775" in text
    assert 'smsc-username = "hotline12345"' in text and 'smsc-password = "s3"' in text
    broken = dataclasses.replace(SECRETS, smpp_password='pa"ss')
    with pytest.raises(KannelError, match="smsc-password holds a quote"):
        render(dataclasses.replace(settings, sms=smpp), broken, KannelLayout(tmp_path))
