"""The running hotline under test, SIPp peers, and waiting on events (never on the clock)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import keys
from ivr.agents.errors import AgentExists
from ivr.app import build_app
from ivr.asterisk.process import AsteriskProcess
from ivr.calls.tracker import Row
from ivr.db.engine import create_engine, upgrade
from ivr.db.models import Call
from ivr.democall import Sipp, error_log
from ivr.secrets import Secrets
from ivr.settings import Settings, WorkOrderSettings
from ivr.web.access_log import AccessLogger
from ivr.workorders.directory import Directory
from ivr.workorders.service import OrderService

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CARRIER_IP = "127.0.0.2"
AGENT_IP = "127.0.0.1"
CITIZEN = "13800138000"


def agent_for(seat: str) -> str:
    """The agent the tests put on a seat: 8001 → 1001."""
    return "1" + seat[1:]


# Long enough for the greeting (about 5 s), a ring and some conversation.
CONVERSATION_MS = 10_000


@asynccontextmanager
async def fresh_postgres_database(prefix: str = "hotline_test", keep: bool = False) -> AsyncIterator[str]:
    """A new database on the machine's PostgreSQL, dropped afterwards unless `keep`."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = await create_database(name)
    try:
        yield url
    finally:
        if not keep:
            await drop_database(name)


async def create_database(name: str, template: str | None = None) -> str:
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await admin.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


class PostgresOutage:
    """The machine's PostgreSQL behind a port of its own that a test can take away: `away()` is the database
    stopping (every connection cut, new ones refused), `back()` it running again on the same address.
    `url(database_url)` is the URL that goes through it."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    def url(self, database_url: str) -> str:
        return database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{self.port}/")

    async def back(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def away(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._links:
            writer.transport.abort()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        self._links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", 5432)
        self._links |= {writer, upstream_writer}
        pipes = {asyncio.ensure_future(_pipe(reader, upstream_writer)),
                 asyncio.ensure_future(_pipe(upstream_reader, writer))}
        self._pipes |= pipes
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes -= pipes
        self._links -= {writer, upstream_writer}


@asynccontextmanager
async def database_with_outage(template: str) -> AsyncIterator[tuple[PostgresOutage, str]]:
    """A new database copied from the migrated `template`, and its URL through a PostgresOutage (up at first)."""
    name = f"hotline_test_{uuid.uuid4().hex[:10]}"
    url = await create_database(name, template=template)
    outage = PostgresOutage()
    await outage.back()
    try:
        yield outage, outage.url(url)
    finally:
        await outage.away()
        await drop_database(name)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@dataclass
class Hotline:
    app: web.Application
    settings: Settings
    secrets: Secrets
    asterisk: AsteriskProcess
    runner: web.AppRunner
    stopped: bool = False
    background: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def sip_target(self) -> str:
        return f"127.0.0.1:{self.settings.sip.port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.settings.web.host}:{self.settings.web.port}"

    def expect_finished_call(self) -> asyncio.Future[Row]:
        """A future for the next call whose end reaches the database (subscribe before dialling)."""
        future: asyncio.Future[Row] = asyncio.get_running_loop().create_future()

        def written(row: Row) -> None:
            if row.get("ended_at") is not None and not future.done():
                future.set_result(row)

        unsubscribe = self.app[keys.CALL_WRITER].on_written(written)
        future.add_done_callback(lambda _: unsubscribe())
        return future

    def expect_finished_calls(self, count: int) -> asyncio.Future[list[str]]:
        """A future for the unique ids of the next `count` calls whose end reaches the database."""
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        ended: list[str] = []

        def written(row: Row) -> None:
            if row.get("ended_at") is not None and row["uniqueid"] not in ended:
                ended.append(row["uniqueid"])
                if len(ended) == count and not future.done():
                    future.set_result(ended)

        unsubscribe = self.app[keys.CALL_WRITER].on_written(written)
        future.add_done_callback(lambda _: unsubscribe())
        return future

    def expect_ami_event(self, match: Callable[[str, Mapping[str, str]], bool]) -> asyncio.Future[dict[str, str]]:
        future: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

        def sink(name: str, fields: Mapping[str, str]) -> None:
            if match(name, fields) and not future.done():
                future.set_result(dict(fields))

        client = self.app[keys.AMI]
        client.subscribe(sink)
        future.add_done_callback(lambda _: client.sinks.remove(sink))
        return future

    def stored_call_matching(self, match: Callable[[Row], bool]) -> asyncio.Future[Row]:
        """A future for a call whose row in the database matches, now or after a later write."""
        future: asyncio.Future[Row] = asyncio.get_running_loop().create_future()

        async def look(uniqueid: str | None) -> None:
            for row in await self._stored_rows(uniqueid):
                if match(row) and not future.done():
                    future.set_result(row)

        def spawn(uniqueid: str | None) -> None:
            task = asyncio.ensure_future(look(uniqueid))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

        # A written row may be partial (rows merge in the database): look at the stored one each time.
        unsubscribe = self.app[keys.CALL_WRITER].on_written(lambda row: spawn(row["uniqueid"]))
        future.add_done_callback(lambda _: unsubscribe())
        spawn(None)  # subscribed first, then looked: a row written in between is caught by one or the other
        return future

    async def _stored_rows(self, uniqueid: str | None) -> list[Row]:
        query = select(Call) if uniqueid is None else select(Call).where(Call.uniqueid == uniqueid)
        async with self.app[keys.ENGINE].connect() as connection:
            rows = (await connection.execute(query)).all()
        return [{k: v for k, v in row._asdict().items() if v is not None} for row in rows]

    async def stop(self) -> None:
        """The whole server goes away, as when its process dies; Asterisk stays up."""
        self.stopped = True
        await self.runner.cleanup()

    async def stored_calls_from(self, caller: str) -> Call:
        """The one stored call from `caller` (the tests give each call its own number)."""
        async with self.app[keys.ENGINE].connect() as connection:
            row = (await connection.execute(select(Call).where(Call.caller_number == caller))).one()
        return Call(**row._asdict())

    async def stored_call(self, uniqueid: str) -> Call:
        async with self.app[keys.ENGINE].connect() as connection:
            row = (await connection.execute(select(Call).where(Call.uniqueid == uniqueid))).one()
        return Call(**row._asdict())

    @asynccontextmanager
    async def softphone(self, seat: str, answers: str = "agent_answers.xml") -> AsyncIterator[SippProcess]:
        """The seat's softphone (SIPp) registered with its generated password, answering calls, for the block.

        `answers` is the SIPp scenario for a call to the seat: the citizen hangs up (default), or
        agent_answers_then_hangs_up.xml.
        """
        registered = self.expect_ami_event(
            lambda name, f: name == "ContactStatus" and f.get("AOR") == seat
            and f.get("ContactStatus") in ("Created", "Updated", "Reachable")
        )
        sipp = Sipp(
            scenario="agent_register.xml", target=self.sip_target, local_ip=AGENT_IP,
            variables={"seat": seat}, pause_ms=3_600_000, username=seat,
            password=self.secrets.seat_passwords[seat], out_of_call=answers, timeout_s=3_610,
        )
        async with run_sipp(sipp) as process:
            await wait(registered, 10, f"seat {seat} did not register", process)
            yield process

    @asynccontextmanager
    async def agent(self, seat: str, answers: str = "agent_answers.xml",
                    skills: str = "general") -> AsyncIterator[SippProcess]:
        """Agent 1xxx logged in to seat 8xxx (as from the desk), its softphone answering, for the block."""
        agent_id = agent_for(seat)
        await self.ensure_agent(agent_id)
        await self.app[keys.AGENT_STORE].set_skills(agent_id, skills.split(","))
        await self.app[keys.AGENT_SERVICE].login(agent_id, seat)
        async with self.softphone(seat, answers) as process:
            yield process

    async def ensure_agent(self, agent_id: str, name: str = "测试坐席") -> str | None:
        """Create the agent unless it exists; returns its new PIN, or None if it existed."""
        try:
            return await self.app[keys.AGENT_STORE].add(agent_id, name)
        except AgentExists:
            return None

    async def call_answered_by(self, seat: str, caller: str = CITIZEN) -> Call:
        """A citizen calls 12345 while an agent is logged in to `seat`; the stored call once it has ended."""
        async with self.agent(seat) as softphone:
            finished = self.expect_finished_call()
            citizen = await self.citizen_call("12345", hang_up_after_ms=CONVERSATION_MS, caller=caller)
            assert citizen.process.returncode == 0, citizen.errors
            row = await wait(finished, 15, "the call did not reach the database", softphone)
        return await self.stored_call(row["uniqueid"])

    async def unanswered_call(self, number: str, hang_up_after_ms: int, caller: str = CITIZEN,
                              scenario: str = "citizen_hangs_up.xml") -> Call:
        """A citizen call with no agent to take it; the stored call once it has ended."""
        finished = self.expect_finished_call()
        citizen = await self.citizen_call(number, hang_up_after_ms, caller, scenario)
        assert citizen.process.returncode == 0, citizen.errors
        row = await wait(finished, 15, "the call did not reach the database")
        return await self.stored_call(row["uniqueid"])

    async def citizen_call(self, number: str, hang_up_after_ms: int, caller: str = CITIZEN,
                           scenario: str = "citizen_hangs_up.xml", **variables: str) -> SippProcess:
        """A citizen (SIPp, from the carrier's address) calls `number`; `hang_up_after_ms` is the scenario's
        pause after the answer (citizen_rates.xml: until it presses `digit`)."""
        sipp = Sipp(
            scenario=scenario, target=self.sip_target, local_ip=CARRIER_IP, service=number,
            variables={"caller": caller, **variables}, pause_ms=hang_up_after_ms,
            timeout_s=hang_up_after_ms // 1000 + 30,
        )
        async with run_sipp(sipp) as process:
            await process.finished()
            return process


class SippProcess:
    def __init__(self, process: asyncio.subprocess.Process, workdir: Path) -> None:
        self.process = process
        self.workdir = workdir
        self.kept_errors: str | None = None  # read before the work folder goes (a failed call is asserted later)

    @property
    def errors(self) -> str:
        if self.kept_errors is not None:
            return self.kept_errors
        screen = self.workdir / "screen.log"
        tail = screen.read_text(errors="replace")[-1500:] if screen.exists() else ""
        return error_log(self.workdir) + tail

    async def finished(self) -> int:
        returncode = await self.process.wait()
        return returncode


@asynccontextmanager
async def run_sipp(sipp: Sipp) -> AsyncIterator[SippProcess]:
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        # SIPp redraws its screen all the time: to a file, so that a full pipe never stalls it.
        with (workdir / "screen.log").open("wb") as screen:
            process = await asyncio.create_subprocess_exec(
                *sipp.command(workdir), cwd=workdir, stdin=asyncio.subprocess.DEVNULL, stdout=screen,
                stderr=asyncio.subprocess.STDOUT,
            )
        handle = SippProcess(process, workdir)
        try:
            yield handle
        finally:
            if process.returncode is None:
                process.terminate()
                with contextlib.suppress(ProcessLookupError):
                    await process.wait()
            handle.kept_errors = handle.errors


async def wait(future: Awaitable[Any], timeout: float, what: str, sipp: SippProcess | None = None) -> Any:
    try:
        async with asyncio.timeout(timeout):
            return await future
    except TimeoutError:
        detail = f"\nSIPp: {sipp.errors}" if sipp else ""
        raise AssertionError(f"{what} within {timeout:g} s{detail}") from None


@asynccontextmanager
async def start_hotline(settings: Settings, secrets: Secrets, asterisk: AsteriskProcess) -> AsyncIterator[Hotline]:
    """The whole server, as `hotline serve` runs it, on the test ports; AMI logged in and queues read."""
    engine = create_engine(settings.database)
    await upgrade(engine)
    await engine.dispose()
    app = build_app(settings, secrets, asterisk.layout)
    runner = web.AppRunner(app, access_log_class=AccessLogger)
    await runner.setup()
    hotline = Hotline(app, settings, secrets, asterisk, runner)
    try:
        await web.TCPSite(runner, settings.web.host, settings.web.port).start()
        client = app[keys.AMI]
        if client.refreshes == 0:
            await client.wait_refreshed(after=0, timeout=10)
        yield hotline
    finally:
        if not hotline.stopped:
            await runner.cleanup()
        # Asterisk is shared by the tests: a callback still ringing (its INVITE retransmitted to the carrier's
        # port) must not reach the next test's SIPp phone there.
        await asterisk.cli("channel request hangup all")


async def log_in(session: aiohttp.ClientSession, url: str, body: Mapping[str, str]) -> dict[str, Any]:
    """Logs in (an agent with agent_id and pin to /api/session, a user with user and password to
    /api/portal/session) and sends the session's CSRF token with every later request, as the pages do."""
    async with session.post(url, json=dict(body)) as response:
        answer = await response.json()
        assert response.status == 200, answer
    session.headers["X-CSRF-Token"] = answer["csrf"]
    return dict(answer)


def order_service(engine: AsyncEngine, directory: Directory | None = None) -> OrderService:
    """The real order service with default work-order settings, attachments in a fresh temporary folder."""
    return OrderService(engine, directory or Directory(engine), WorkOrderSettings(), "Asia/Shanghai",
                        Path(tempfile.mkdtemp(prefix="hotline-attachments-")))
