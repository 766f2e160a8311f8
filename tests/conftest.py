"""Fixtures: settings on test ports, the real Asterisk (sandbox), the hotline server, SIPp peers, databases."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.asterisk.layout import AsteriskLayout
from ivr.asterisk.process import AsteriskProcess
from ivr.asterisk.setup import prepare_instance
from ivr.db.engine import create_engine, upgrade
from ivr.secrets import Secrets, ensure_secrets
from ivr.settings import DEFAULT_LINES, Settings, load_settings
from ivr.web import passwords
from tests.helpers import Hotline, create_database, drop_database, fresh_postgres_database, start_hotline

TEST_PORTS = {
    "HOTLINE_SIP_PORT": "15060",
    "HOTLINE_AMI_PORT": "15038",
    "HOTLINE_FASTAGI_PORT": "14573",
    "HOTLINE_WEB_PORT": "18080",
    "HOTLINE_SIP_BIND": "127.0.0.1",
    # Seats register from 127.0.0.1 (tests/helpers.py AGENT_IP); 127.0.0.4 is an insider trying passwords,
    # 127.0.0.5 a stranger outside the agent networks (tests/e2e/test_sip_edge.py).
    "HOTLINE_SIP_AGENT_NETWORKS": "127.0.0.1,127.0.0.4",
    "HOTLINE_QUEUE_WRAPUP_SECONDS": "1",
    "HOTLINE_ASTERISK_MODE": "sandbox",
    "HOTLINE_ASTERISK_INSTANCE": "pytest",
    # The carrier's side for calls out to citizens: a SIPp "citizen phone" listens here when a test needs it.
    "HOTLINE_SIP_CARRIER_CONTACT": "sip:127.0.0.2:15070",
    "HOTLINE_CALLBACKS_DIAL_INTERVAL": "0.5",
    # Only tests marked dials_callbacks dial them (see the settings fixture).
    "HOTLINE_CALLBACKS_DIAL": "false",
    # Survey calls ring 4 s, rounds every half second; only tests marked dials_surveys make visits at all.
    "HOTLINE_SURVEYS_RING_SECONDS": "4",
    "HOTLINE_SURVEYS_INTERVAL": "0.5",
    "HOTLINE_SURVEYS_SHUTDOWN_WAIT": "30",
    # Announcements every 6 s of waiting, and the callback offered beyond a minute's expected wait.
    "HOTLINE_QUEUE_ANNOUNCE_SECONDS": "6",
    "HOTLINE_QUEUE_OVERFLOW_WAIT_SECONDS": "60",
    # The default lines, but a greeting that does not read them out: the tests' timings assume a short one.
    # Cheap password hashes: the tests create and log in hundreds of users (production: 64 MiB, 3 passes).
    "HOTLINE_WEB_PASSWORD_MEMORY_KIB": "1024",
    "HOTLINE_WEB_PASSWORD_TIME_COST": "1",
    "HOTLINE_ROUTING_LINES": json.dumps([dataclasses.asdict(line) | {"announce": ""} for line in DEFAULT_LINES]),
    "HOTLINE_ROUTING_PROGRESS_ANNOUNCE": "",
    # The speech model is loaded at a test's first voicemail, not by every test's server.
    "HOTLINE_TRANSCRIPTION_PRELOAD": "false",
    # The server's Kannel (tests marked sms start it; see the settings fixture): ports of its own, apart from
    # tests/e2e/test_kannel.py's 15200–15213. Short waits before a message Kannel did not take is tried again.
    "HOTLINE_SMS_ADMIN_PORT": "15300",
    "HOTLINE_SMS_BOX_PORT": "15301",
    "HOTLINE_SMS_FAKE_PORT": "15310",
    "HOTLINE_SMS_SENDSMS_PORT": "15313",
    "HOTLINE_SMS_RUN_KANNEL": "false",
    "HOTLINE_SMS_RETRY_SECONDS": "0.5",
    "HOTLINE_SMS_RETRY_MAX_SECONDS": "2",
    "HOTLINE_SMS_RESTART_SECONDS": "1",
    "HOTLINE_SMS_SEND_INTERVAL": "0.02",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sms: the server starts Kannel (bearerbox and smsbox) for the test")


@pytest.fixture(scope="session", autouse=True)
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    environ = {**TEST_PORTS, "HOTLINE_DATA_DIR": str(tmp_path_factory.mktemp("hotline"))}
    if os.environ.get("HOTLINE_CACHE_DIR"):
        environ["HOTLINE_CACHE_DIR"] = os.environ["HOTLINE_CACHE_DIR"]
    settings = load_settings(environ=environ)
    passwords.configure(settings.web.password_memory_kib, settings.web.password_time_cost)
    return settings


@pytest.fixture(scope="session")
def secrets(base_settings: Settings) -> Secrets:
    return ensure_secrets(base_settings)


@pytest.fixture(scope="session")
def asterisk(base_settings: Settings, secrets: Secrets) -> Iterator[AsteriskProcess]:
    """The real Asterisk 22, installed into the sandbox if the machine has none yet, for the whole run."""
    if shutil.which("sipp") is None:  # the e2e tests' citizens and agents: install, never skip
        subprocess.run(["apt-get", "install", "-y", "-q", "sip-tester"], check=True)
    _secrets, layout = prepare_instance(base_settings, print, fresh=True)
    assert layout.root is not None, "the tests run Asterisk in the sandbox"
    process = AsteriskProcess(layout, base_settings.asterisk.start_timeout)
    loop = asyncio.new_event_loop()
    if loop.run_until_complete(process.is_running()):
        loop.run_until_complete(process.stop())  # left over from an interrupted run
    loop.run_until_complete(process.start())
    yield process
    loop.run_until_complete(process.stop())
    loop.close()


@pytest.fixture(scope="session")
def layout(asterisk: AsteriskProcess) -> AsteriskLayout:
    return asterisk.layout


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    # Only the callback tests dial callbacks: a callback left ringing by another test keeps retransmitting its
    # INVITE to the carrier's port (a CANCEL waits for a provisional answer) and would reach their SIPp phone.
    dial = request.node.get_closest_marker("dials_callbacks") is not None
    callbacks = dataclasses.replace(base_settings.callbacks, dial=dial)
    surveys = dataclasses.replace(base_settings.surveys,
                                  dial=request.node.get_closest_marker("dials_surveys") is not None)
    # Only the SMS tests pay for starting Kannel; elsewhere queued messages just wait.
    sms = dataclasses.replace(base_settings.sms, run_kannel=request.node.get_closest_marker("sms") is not None)
    # The report schedule would make PDFs of every test's calls; only its own tests run it.
    reports = dataclasses.replace(base_settings.reports,
                                  schedule=request.node.get_closest_marker("schedules_reports") is not None)
    return dataclasses.replace(base_settings, data_dir=tmp_path, database_url="", callbacks=callbacks,
                               surveys=surveys, sms=sms, reports=reports)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test that takes this runs once on SQLite and once on the machine's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A migrated SQLite file and a migrated PostgreSQL template database, made once per run: each test's
    database is a copy (a file copy; CREATE DATABASE … TEMPLATE), not nine migrations again."""
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    template = f"hotline_template_{uuid.uuid4().hex[:10]}"

    async def make() -> None:
        for url in (f"sqlite+aiosqlite:///{sqlite_file}", await create_database(template)):
            engine = create_engine(url)
            await upgrade(engine)
            await engine.dispose()

    asyncio.run(make())
    yield {"sqlite": str(sqlite_file), "postgresql": template}
    asyncio.run(drop_database(template))


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, migrated_templates: dict[str, str],
                 tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        copy = tmp_path / "hotline.db"
        shutil.copyfile(migrated_templates["sqlite"], copy)
        url, name = f"sqlite+aiosqlite:///{copy}", None
    else:
        name = f"hotline_test_{uuid.uuid4().hex[:10]}"
        url = await create_database(name, template=migrated_templates["postgresql"])
    engine = create_engine(url)
    yield engine
    await engine.dispose()
    if name is not None:
        await drop_database(name)


@pytest.fixture
async def hotline(
    asterisk: AsteriskProcess, settings: Settings, secrets: Secrets
) -> AsyncIterator[Hotline]:
    async with start_hotline(settings, secrets, asterisk) as running:
        yield running


