"""The `hotline` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import logs
from ivr.agents.errors import AgentError
from ivr.agents.store import AgentStore
from ivr.app import build_app
from ivr.asterisk.layout import AsteriskLayout, choose_layout
from ivr.asterisk.process import AsteriskProcess, AsteriskStartError
from ivr.asterisk.sandbox import SandboxError, install_sandbox
from ivr.asterisk.setup import prepare_instance
from ivr.calls.queue_log import ImportReport, Period, QueueLogImporter
from ivr.calls.store import CallStore
from ivr.campaigns import admin as campaigns_admin
from ivr.db.engine import SchemaOutdated, create_engine, ensure_current, upgrade, with_store
from ivr.db.models import Call
from ivr.democall import DemoCallError, place_demo_call
from ivr.knowledge.importing import read_entries
from ivr.knowledge.store import KnowledgeStore
from ivr.open311 import admin as open311_admin
from ivr.private_data import private_umask
from ivr.prompts.generate import PromptError
from ivr.reports import admin as reports_admin
from ivr.secrets import Secrets, SecretsError, ensure_secrets
from ivr.settings import Settings, SettingsError, load_settings
from ivr.staffing import admin as staffing_admin
from ivr.voicemail import backlog, model_install
from ivr.voicemail.model_install import ModelInstallError
from ivr.voicemail.speech_model import NoModel, find_model
from ivr.web import passwords
from ivr.web.access_log import AccessLogger
from ivr.workorders import admin as workorders_admin

logger = logging.getLogger("hotline")
T = TypeVar("T")
EXPECTED_ERRORS = (
    SettingsError, SecretsError, SandboxError, AsteriskStartError, PromptError, SchemaOutdated, DemoCallError, OSError,
    AgentError, ModelInstallError,
)
FIRST_AGENT = "1001"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "run"):
        parser.print_help()
        return 2
    try:
        settings = load_settings(arguments.config, overrides=arguments.set)
        passwords.configure(settings.web.password_memory_kib, settings.web.password_time_cost)
        logs.configure(settings.log_level, settings.log_format)
        with private_umask():  # what a command writes (data, secrets, Asterisk's and Kannel's files) is private
            result: int = arguments.run(settings, arguments)
        return result
    except EXPECTED_ERRORS as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


SKILLS_HELP = ("comma-separated skills, each with an optional penalty 0 (best) to 9, e.g. general,dialect:2; "
               "the lines (routing.lines) say which skills serve them")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="The 12345 hotline server.")
    parser.add_argument("--config", type=Path, help="settings file (TOML); default $HOTLINE_CONFIG")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set web.port=8081 (repeatable)")
    commands = parser.add_subparsers(title="commands")
    _command(commands, "up", "bring up the whole hotline on this machine (Asterisk included)", cmd_up)
    _command(commands, "serve", "run the server alone against an Asterisk that runs elsewhere", cmd_serve)
    _command(commands, "setup", "generate secrets, render Asterisk's configuration and prompts", cmd_setup)
    asterisk = commands.add_parser("asterisk", help="the Asterisk this hotline drives").add_subparsers(title="actions")
    _command(asterisk, "install", "install the Asterisk sandbox (debootstrap, cached)", cmd_asterisk_install)
    _command(asterisk, "start", "render the configuration and start Asterisk in the background", cmd_asterisk_start)
    _command(asterisk, "stop", "stop Asterisk", cmd_asterisk_stop)
    _command(asterisk, "cli", "open Asterisk's console", cmd_asterisk_cli)
    db = commands.add_parser("db", help="the database").add_subparsers(title="actions")
    _command(db, "upgrade", "migrate the database schema to the newest version", cmd_db_upgrade)
    agent = commands.add_parser("agent", help="agents (people who answer calls)").add_subparsers(title="actions")
    add = _command(agent, "add", "create an agent; prints the new PIN once", cmd_agent_add)
    add.add_argument("agent_id", help="工号: digits, keyed on the phone to log in")
    add.add_argument("--name", required=True)
    add.add_argument("--skills", default="general", help=SKILLS_HELP)
    add.add_argument("--role", default="agent", choices=["agent", "supervisor"])
    _command(agent, "list", "list the agents", cmd_agent_list)
    skills = _command(agent, "skills", "set an agent's skills (a running server applies them at its next "
                      "queue re-read, or when the agent logs in again)", cmd_agent_skills)
    skills.add_argument("agent_id")
    skills.add_argument("skills", help=SKILLS_HELP)
    kpi = commands.add_parser("kpi", help="call-side KPIs").add_subparsers(title="actions")
    reconcile = _command(kpi, "reconcile", "check the call records against Asterisk's queue log and fill what "
                         "they lack", cmd_kpi_reconcile)
    reconcile.add_argument("--from", dest="start", type=_moment, default=None,
                           help="calls that entered the queue from this time (ISO 8601; local time without offset)")
    reconcile.add_argument("--to", dest="end", type=_moment, default=None,
                           help="calls that entered the queue before this time")
    workorders_admin.register(commands, _command)
    knowledge = commands.add_parser("knowledge", help="the knowledge base agents answer from").add_subparsers(
        title="actions")
    knowledge_import = _command(knowledge, "import", "add or replace knowledge entries from a file (an entry "
                                "replaces its department's entry of the same title)", cmd_knowledge_import)
    knowledge_import.add_argument("file", type=Path, help="JSON list of entries, or TOML with [[entries]]; each "
                                  "names its department by code")
    open311_admin.register(commands, _command)
    campaigns_admin.register(commands, _command)
    staffing_admin.register(commands, _command)
    reports_admin.register(commands, _command)
    transcribe = _command(commands, "transcribe", "transcribe the voicemails waiting (their durable jobs) until none "
                          "is due, with a progress line; exit 1 if one failed, 3 without a speech model",
                          cmd_transcribe)
    transcribe.add_argument("--workers", type=_positive, default=None, metavar="N",
                            help="jobs at once, each in a decoder process (default transcription.workers)")
    transcribe.add_argument("--retry-failed", action="store_true", help="queue the failed transcriptions again first")
    transcribe.add_argument("--status", action="store_true",
                            help="print the jobs' counts and the speech model, and exit (needs no model)")
    transcribe.add_argument("--worker-name", default=None, metavar="NAME",
                            help="the name this run's leases are held under (default host-pid)")
    model = commands.add_parser("model", help="the speech model voicemails are transcribed with").add_subparsers(
        title="actions")
    install = _command(model, "install", "install a Vosk model from its zip archive, checked against its sha256",
                       cmd_model_install)
    install.add_argument("archive", type=Path, help="e.g. vosk-model-small-cn-0.22.zip, downloaded from the Vosk site")
    install.add_argument("--sha256", required=True, metavar="HEX", help="the archive's SHA-256, as published")
    install.add_argument("--into", type=Path, default=None, metavar="DIR",
                         help="where the model's folder goes (default <data_dir>/models)")
    _command(model, "check", "show the configured speech model and its sample rate; exit 3 without one",
             cmd_model_check)
    call = _command(commands, "call", "place a demo citizen call with SIPp", cmd_call)
    call.add_argument("--number", default=None, help="number to dial (default: the hotline number)")
    call.add_argument("--caller", default="13800138000", help="the citizen's number")
    call.add_argument("--seconds", type=int, default=30, help="hang up after this many seconds")
    return parser


def _command(
    group: Any, name: str, help_text: str, run: Callable[[Settings, argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(run=run)
    return parser


def _progress(message: str) -> None:
    print(f"[hotline] {message}", flush=True)


def cmd_setup(settings: Settings, _arguments: argparse.Namespace) -> int:
    _secrets, layout = prepare_instance(settings, _progress, install=False)
    _progress(f"configuration rendered into {layout.host('etc')}; secrets in {settings.secrets_file}")
    return 0


def cmd_up(settings: Settings, _arguments: argparse.Namespace) -> int:
    secrets, layout = prepare_instance(settings, _progress)
    _progress("migrating the database")
    _run(_upgrade(settings))
    first = _run(_first_agent(settings))
    if first is not None:
        _progress(f"created agent {first[0]} with PIN {first[1]} (more with 'hotline agent add')")
    department_user = workorders_admin.set_up_first_directory(settings)
    if department_user is not None:
        _progress(f"loaded the starter directory; department user {department_user[0]} with password "
                  f"{department_user[1]} (more with 'hotline user add')")
    return _run(_up(settings, secrets, layout))


async def _up(settings: Settings, secrets: Secrets, layout: AsteriskLayout) -> int:
    asterisk = AsteriskProcess(layout, settings.asterisk.start_timeout)
    _progress("starting Asterisk")
    await asterisk.start()
    try:
        return await _serve(settings, secrets, layout, on_ready=lambda: _print_welcome(settings, secrets, layout))
    finally:
        _progress("stopping Asterisk")
        await asterisk.stop()


def cmd_serve(settings: Settings, _arguments: argparse.Namespace) -> int:
    secrets = ensure_secrets(settings)
    return _run(_serve(settings, secrets, choose_layout(settings), on_ready=lambda: None))


async def _serve(
    settings: Settings, secrets: Secrets, layout: AsteriskLayout, on_ready: Callable[[], None]
) -> int:
    app = build_app(settings, secrets, layout)
    runner = web.AppRunner(app, handle_signals=False, access_log_class=AccessLogger)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.web.host, settings.web.port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        on_ready()
        await stop.wait()
        _progress("stopping")
    finally:
        await runner.cleanup()
    return 0


def _print_welcome(settings: Settings, secrets: Secrets, layout: AsteriskLayout) -> None:
    first = settings.seat_numbers[0]
    print(
        f"""
The 12345 hotline is up.
  Citizens' calls (SIP):  sip:{settings.sip.hotline_number}@<this machine>:{settings.sip.port}
                          accepted from {", ".join(settings.sip.carrier_addresses)} (setting sip.carrier_addresses)
  Seats (softphones):     register as {first}…{settings.seat_numbers[-1]} at <this machine>:{settings.sip.port}
                          from {", ".join(settings.sip.agent_networks)} only (setting sip.agent_networks)
                          e.g. user {first}, password {secrets.seat_passwords[first]}
                          (all passwords: {settings.secrets_file})
  Agents' desk:           http://{settings.web.host}:{settings.web.port}/desk  (log in, then take a seat)
  Work orders:            http://{settings.web.host}:{settings.web.port}/orders  (departments log in here)
  Survey campaigns:       http://{settings.web.host}:{settings.web.port}/campaigns  (supervisors; docs/surveys.md)
  Reports, staffing:      http://{settings.web.host}:{settings.web.port}/reports  (supervisors; docs/reports.md)
  Wallboard (big screen): http://{settings.web.host}:{settings.web.port}/wallboard  (supervisors; docs/wallboard.md)
                          a hall screen without a log-in: /wallboard?key={secrets.wallboard_key}
  Metrics (Prometheus):   http://{settings.web.host}:{settings.web.port}/metrics  (docs/operations.md)
  SMS (Kannel):           to and from {settings.sms.sender} through its {settings.sms.smsc} SMSC (docs/sms.md)
  Open311 API:            http://{settings.web.host}:{settings.web.port}/open311/v2/discovery.json
  Health:                 http://{settings.web.host}:{settings.web.port}/healthz
  Asterisk log:           {layout.messages_log}
  Voicemail:              {_speech_model_line(settings)}
  Try it:                 hotline call   (a demo citizen call, in another terminal)
Press Ctrl-C to stop everything.
""",
        flush=True,
    )


def _speech_model_line(settings: Settings) -> str:
    try:
        model = find_model(settings.transcription.model_path)
    except NoModel as exc:
        return f"kept untranscribed: {exc}"
    return f"kept in {settings.data_dir / 'voicemail'}, transcribed with {model.name} (docs/voicemail.md)"


def cmd_asterisk_install(settings: Settings, _arguments: argparse.Namespace) -> int:
    layout = choose_layout(settings)
    if layout.root is None:
        _progress("a system Asterisk is installed; it will be used (set asterisk.mode=sandbox to override)")
        return 0
    install_sandbox(layout.root, settings.asterisk.suite, _progress)
    return 0


def cmd_asterisk_start(settings: Settings, _arguments: argparse.Namespace) -> int:
    _secrets, layout = prepare_instance(settings, _progress)
    asterisk = AsteriskProcess(layout, settings.asterisk.start_timeout)
    if _run(asterisk.is_running()):
        _progress("Asterisk is already running; configuration re-rendered (reload it from 'hotline asterisk cli')")
        return 0
    subprocess.run(layout.command(), check=True)  # without -f Asterisk puts itself in the background
    _run(asterisk.wait_fully_booted())
    _progress(f"Asterisk is up; log {layout.messages_log}")
    return 0


def cmd_asterisk_stop(settings: Settings, _arguments: argparse.Namespace) -> int:
    asterisk = AsteriskProcess(choose_layout(settings), settings.asterisk.start_timeout)
    output = _run(asterisk.cli("core stop gracefully", timeout=30))
    _progress("Asterisk stopped" if output is not None else "Asterisk was not running")
    return 0


def cmd_asterisk_cli(settings: Settings, _arguments: argparse.Namespace) -> int:
    command = choose_layout(settings).command("-r")
    os.execvp(command[0], command)


def cmd_db_upgrade(settings: Settings, _arguments: argparse.Namespace) -> int:
    _run(_upgrade(settings))
    _progress(f"database at the newest schema: {settings.database.split('@')[-1]}")
    return 0


async def _upgrade(settings: Settings) -> None:
    engine = create_engine(settings.database)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def cmd_agent_add(settings: Settings, arguments: argparse.Namespace) -> int:
    skills = [skill.strip() for skill in arguments.skills.split(",") if skill.strip()]
    pin = _run(_with_agents(settings, lambda store: store.add(arguments.agent_id, arguments.name, skills,
                                                              arguments.role)))
    _progress(f"agent {arguments.agent_id} ({arguments.name}) created; PIN {pin} (shown only now)")
    return 0


def cmd_agent_skills(settings: Settings, arguments: argparse.Namespace) -> int:
    skills = arguments.skills.split(",")
    _run(_with_agents(settings, lambda store: store.set_skills(arguments.agent_id, skills)))
    print(f"agent {arguments.agent_id}: {arguments.skills}")
    return 0


def cmd_agent_list(settings: Settings, _arguments: argparse.Namespace) -> int:
    for agent in _run(_with_agents(settings, lambda store: store.all())):
        print(f"{agent.id}\t{agent.name}\t{agent.role}\t{agent.skills}\t{'active' if agent.active else 'disabled'}")
    return 0


async def _with_agents(settings: Settings, use: Callable[[AgentStore], Awaitable[T]]) -> T:
    return await with_store(settings.database, AgentStore, use)


async def _first_agent(settings: Settings) -> tuple[str, str] | None:
    """On a hotline with no agent yet, create one so that a newcomer can log in; (id, PIN)."""
    async def create(store: AgentStore) -> tuple[str, str] | None:
        if await store.all():
            return None
        return FIRST_AGENT, await store.add(FIRST_AGENT, "坐席一号")

    return await _with_agents(settings, create)


def _moment(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time such as 2026-11-25T08:00") from None


def cmd_kpi_reconcile(settings: Settings, arguments: argparse.Namespace) -> int:
    zone = ZoneInfo(settings.timezone)
    start, end = (moment if moment is None or moment.tzinfo else moment.replace(tzinfo=zone)
                  for moment in (arguments.start, arguments.end))
    period = Period(start or datetime.min.replace(tzinfo=UTC), end or datetime.max.replace(tzinfo=UTC))
    path = choose_layout(settings).queue_log
    report = _run(_reconcile(settings, path, period))
    _progress(f"{path}: {report.lines} line(s) read, {len(report.malformed)} malformed")
    for malformed in report.malformed:
        print(f"  {malformed}")
    _progress(f"{len(report.filled)} call(s) completed from the queue log")
    for result in report.filled:
        print(f"  {result.uniqueid}: " + ", ".join(f"{k}={_shown(v)}" for k, v in result.filled.items()))
    _progress(f"{len(report.inserted)} call(s) unknown to the database, recorded from the queue log")
    for result in report.inserted:
        print(f"  {result.uniqueid}: outcome {result.filled.get('outcome')}, agent {result.filled.get('agent')}")
    _progress(f"{len(report.discrepancies)} call(s) whose record disagrees with the queue log")
    for result in report.discrepancies:
        print(f"  {result.uniqueid}: " + "; ".join(result.discrepancies))
    return 0


def _shown(value: object) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)


async def _reconcile(settings: Settings, path: Path, period: Period) -> ImportReport:
    engine = create_engine(settings.database)
    try:
        await ensure_current(engine)
        store = CallStore(engine)
        importer = QueueLogImporter(path, store, store.upsert, settings.queue.max_wait_seconds, period=period)
        return await importer.import_new()
    finally:
        await engine.dispose()


def cmd_knowledge_import(settings: Settings, arguments: argparse.Namespace) -> int:
    entries = read_entries(arguments.file)
    added, replaced = _run(_import_knowledge(settings, entries))
    _progress(f"{arguments.file}: {added} knowledge entr{'y' if added == 1 else 'ies'} added, {replaced} replaced")
    return 0


async def _import_knowledge(settings: Settings, entries: list[Any]) -> tuple[int, int]:
    days = settings.workorders.knowledge_review_warning_days
    return await with_store(settings.database, lambda engine: KnowledgeStore(engine, days),
                            lambda store: store.import_entries(entries, datetime.now(UTC)))


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return int(value)


def cmd_transcribe(settings: Settings, arguments: argparse.Namespace) -> int:
    options = backlog.Options(workers=arguments.workers or settings.transcription.workers,
                              worker_name=arguments.worker_name or f"{socket.gethostname()}-{os.getpid()}",
                              retry_failed=arguments.retry_failed, status=arguments.status)
    return _run(with_store(settings.database, lambda engine: engine,
                           lambda engine: backlog.transcribe(settings, engine, options, sys.stdout, sys.stderr)))


def cmd_model_install(settings: Settings, arguments: argparse.Namespace) -> int:
    into = arguments.into or settings.data_dir / "models"
    _progress(f"checking {arguments.archive.name} against its sha256, then unpacking it into {into}")
    model = model_install.install(arguments.archive, arguments.sha256, into)
    _progress(f"speech model {model.name} installed at {model.path} ({model.sample_rate} Hz)")
    for line in model_install.settings_lines(model):
        print(line)
    return 0


def cmd_model_check(settings: Settings, _arguments: argparse.Namespace) -> int:
    try:
        print(model_install.check(settings.transcription.model_path))
    except NoModel as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return backlog.NO_MODEL
    return 0


def cmd_call(settings: Settings, arguments: argparse.Namespace) -> int:
    number = arguments.number or settings.sip.hotline_number
    _progress(f"calling {number} as {arguments.caller} for up to {arguments.seconds} s (SIPp)")
    placed_at = datetime.now(UTC)
    place_demo_call(settings, number, arguments.caller, arguments.seconds)
    call = _run(_recorded_call(settings, arguments.caller, placed_at))
    if call is None:
        _progress("the call went through, but the server has not recorded it: is 'hotline up' running?")
        return 1
    agent = f" by agent {call.agent} at seat {call.seat}" if call.agent else ""
    wait = f" after waiting {call.wait_seconds:.1f} s" if call.wait_seconds is not None else ""
    _progress(f"recorded: outcome {call.outcome}{agent}{wait} (uniqueid {call.uniqueid})")
    return 0


async def _recorded_call(settings: Settings, caller: str, since: datetime) -> Call | None:
    """The demo call's row, once the server has written it (it does so right after the hang-up)."""
    engine = create_engine(settings.database)
    store = CallStore(engine)
    try:
        for _attempt in range(20):
            call = await store.last_ended_call(caller, since - timedelta(seconds=2))
            if call is not None:
                return call
            await asyncio.sleep(0.25)
        return None
    finally:
        await engine.dispose()


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)
