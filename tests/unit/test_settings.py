"""Settings: four layers in order, validated once, errors that name the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ivr.settings import Settings, SettingsError, describe, load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_put_every_service_on_loopback_except_sip() -> None:
    settings = load_settings(environ={})
    assert settings.fastagi.host == "127.0.0.1" and settings.fastagi.port == 4573
    assert settings.ami.host == "127.0.0.1"
    assert settings.web.host == "127.0.0.1" and settings.web.port == 8080
    assert settings.database == "sqlite+aiosqlite:////var/lib/hotline/hotline.db"
    assert len(settings.seat_numbers) == 40 and settings.seat_numbers[0] == "8001"


def test_layers_apply_in_order_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = write(tmp_path / "hotline.toml", "[web]\nport = 9000\n[fastagi]\nport = 4600\n[queue]\nname = 'q1'\n")
    settings = load_settings(
        config,
        environ={"HOTLINE_WEB_PORT": "9100", "HOTLINE_QUEUE_NAME": "q2"},
        overrides=["queue.name=q3"],
    )
    assert settings.fastagi.port == 4600  # file
    assert settings.web.port == 9100  # environment beats file
    assert settings.queue.name == "q3"  # flag beats environment


def test_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "database_url = 'postgresql+asyncpg://db/hotline'\n")
    settings = load_settings(environ={"HOTLINE_CONFIG": str(config)})
    assert settings.database == "postgresql+asyncpg://db/hotline"


def test_database_url_from_environment() -> None:
    assert load_settings(environ={"HOTLINE_DATABASE_URL": "sqlite+aiosqlite:///x.db"}).database.endswith("x.db")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HOTLINE_FASTAGI_PORT": "70000"}, "setting fastagi.port: expected a port number"),
        ({"HOTLINE_FASTAGI_PORT": "abc"}, "setting fastagi.port: expected a whole number"),
        ({"HOTLINE_AMI_HOST": "localhost:5038"}, "setting ami.host"),
        ({"HOTLINE_AMI_HOST": "192.0.2.10"}, "setting ami.host: expected a loopback address"),
        ({"HOTLINE_FASTAGI_HOST": "0.0.0.0"}, "setting fastagi.host: expected a loopback address"),
        ({"HOTLINE_SIP_AGENT_NETWORKS": "10.0.0.0/8,office"}, "setting sip.agent_networks"),
        ({"HOTLINE_SIP_SESSION_EXPIRES": "30"}, "setting sip.session_expires: expected 90 or more"),
        ({"HOTLINE_QUEUE_STRATEGY": "fastest"}, "setting queue.strategy: expected one of"),
        ({"HOTLINE_SIP_CARRIER_ADDRESSES": "10.0.0.1,not-an-ip"}, "setting sip.carrier_addresses"),
        ({"HOTLINE_SIP_HOTLINE_NUMBER": "12a45"}, "setting sip.hotline_number: expected digits only"),
        ({"HOTLINE_FASTAGI_COMMAND_TIMEOUT": "0"}, "setting fastagi.command_timeout: expected a number above zero"),
        ({"HOTLINE_NO_SUCH_THING": "1"}, "unknown setting in environment variable HOTLINE_NO_SUCH_THING"),
    ],
)
def test_a_wrong_value_fails_with_the_key_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings(environ=environ)


def test_unknown_keys_in_the_file_and_flags_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown setting 'fastagi.prot'"):
        load_settings(write(tmp_path / "a.toml", "[fastagi]\nprot = 1\n"), environ={})
    with pytest.raises(SettingsError, match="unknown setting 'nothing'"):
        load_settings(environ={}, overrides=["nothing=1"])
    with pytest.raises(SettingsError, match="--set expects KEY=VALUE"):
        load_settings(environ={}, overrides=["web.port"])


def test_a_broken_or_missing_file_is_reported_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(write(tmp_path / "b.toml", "[web\n"), environ={})
    with pytest.raises(SettingsError, match="cannot read the settings file"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_types_in_the_file_are_checked_too(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="setting web.port: expected a whole number"):
        load_settings(write(tmp_path / "c.toml", "[web]\nport = 80.5\n"), environ={})
    settings = load_settings(write(tmp_path / "d.toml", "[sip]\ncarrier_addresses = ['10.1.1.1', '10.2.0.0/16']\n"),
                             environ={})
    assert settings.sip.carrier_addresses == ("10.1.1.1", "10.2.0.0/16")


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.web.port = 1  # type: ignore[misc]


def test_every_setting_is_described_with_its_default() -> None:
    rows = {key: (default, doc) for key, default, doc in describe()}
    assert rows["fastagi.port"][0] == "4573"
    assert rows["sip.carrier_addresses"][1].startswith("addresses")
    assert len(rows) == len(set(rows)) > 30


def test_the_progress_key_may_not_be_a_line_key_and_may_be_switched_off() -> None:
    with pytest.raises(SettingsError, match="setting routing.progress_key: key 2 already chooses a line"):
        load_settings(environ={"HOTLINE_ROUTING_PROGRESS_KEY": "2"})
    with pytest.raises(SettingsError, match="setting routing.progress_key: expected one phone key"):
        load_settings(environ={"HOTLINE_ROUTING_PROGRESS_KEY": "12"})
    assert load_settings(environ={}).routing.progress_key == "3"
    assert load_settings(environ={"HOTLINE_ROUTING_PROGRESS_KEY": ""}).routing.progress_key == ""
