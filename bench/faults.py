"""Issue 15's faults and attacks, tried against the running hotline, as two tables.

A real Asterisk (the sandbox, instance `faults`, ports 35xxx), the real server in this process on a fresh
PostgreSQL database, SIPp as the carrier's citizens, agents' phones and the citizens' phones that callbacks ring,
and the server's own Kannel. Only loopback addresses are used (127.0.0.2 is the carrier, 127.0.0.5 a stranger);
every SIPp process and every wait has a time limit.

Faults — per fault: calls placed, calls recorded in the database, calls lost (placed − recorded), and the
callbacks due (missed calls from numbers that may be called back) and made (answered by an agent at the end):
  * a refused INVITE to a 70-character number, then an ordinary call;
  * a caller id of 200 digits, then an ordinary call;
  * the database away while an agent is paused: two citizens give up, the agent resumes, a third is answered;
  * the server gone (Asterisk's classic AGI script greets the callers), then a new server.

Attacks — per attack: tried, refused, let through:
  * INVITEs from 127.0.0.5 with `From: <sip:carrier@…>`;
  * callbacks to 0090…, +882…, 00 86…, 110 (let through: a callback dialled);
  * public Open311 reads after an SMS order and a desk order with phone and ID numbers (let through: a raw
    number in the public answer, or a request readable by its sequential number);
  * 30 wrong PINs for one agent and 30 wrong passwords for one web user (let through: a wrong try checked
    after the tenth instead of being throttled);
  * bad input to the web API (ids beyond int32, NUL bytes, over-long fields, huge pages; let through: an
    answer 5xx);
  * a box connecting to Kannel's bearerbox from 127.0.0.5 (let through: the connection stays open);
  * the server's AMI user starting a shell through Originate(System) (let through: accepted);
  * svwar (SIPVicious) enumerating seats 8001–8010 and `carrier` (let through: a name found).

    .venv/bin/python -m bench.faults
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy import func, select

from ivr import keys
from ivr.ami.errors import AmiActionFailed
from ivr.asterisk.process import AsteriskProcess
from ivr.asterisk.setup import prepare_instance
from ivr.callbacks.store import CallbackStore
from ivr.db.models import Call, WorkOrder
from ivr.democall import Sipp
from ivr.secrets import Secrets
from ivr.settings import Settings, load_settings
from routing.callbacks import MISSED_OUTCOMES
from tests.conftest import TEST_PORTS
from tests.helpers import CARRIER_IP, POSTGRES_ADMIN, Hotline, fresh_postgres_database, run_sipp, start_hotline

STRANGER_IP = "127.0.0.5"
CITIZEN_PHONE_PORT = 35070
BENCH_ENVIRONMENT = {
    **TEST_PORTS,
    "HOTLINE_SIP_PORT": "35060", "HOTLINE_AMI_PORT": "35038", "HOTLINE_FASTAGI_PORT": "34573",
    "HOTLINE_WEB_PORT": "38080", "HOTLINE_ASTERISK_INSTANCE": "faults",
    "HOTLINE_SIP_RTP_START": "36000", "HOTLINE_SIP_RTP_END": "36999",
    "HOTLINE_SIP_CARRIER_CONTACT": f"sip:{CARRIER_IP}:{CITIZEN_PHONE_PORT}",
    "HOTLINE_CALLBACKS_DIAL": "true",
    "HOTLINE_SMS_ADMIN_PORT": "35300", "HOTLINE_SMS_BOX_PORT": "35301", "HOTLINE_SMS_FAKE_PORT": "35310",
    "HOTLINE_SMS_SENDSMS_PORT": "35313", "HOTLINE_SMS_RUN_KANNEL": "true",
    "HOTLINE_LOG_LEVEL": "ERROR",
}
SHORT_CALL_MS = 8_000  # a citizen who gives up in the queue (the greeting takes about 5 s)
UNSAFE_NUMBERS = ("00901234567890", "+88213000000", "0086138001380001", "110")
PHONE, ID_NUMBER = "13912345678", "110101199003074258"
PERSONAL_TEXT = f"我叫王小明，电话{PHONE}，身份证{ID_NUMBER}，住在幸福路8号3单元，楼下夜里施工噪音扰民"


@dataclass
class FaultRow:
    fault: str
    placed: int = 0
    recorded: int = 0
    callbacks_due: list[str] = dataclasses.field(default_factory=list)  # the callers whose calls were missed
    callbacks_made: int = 0
    note: str = ""

    @property
    def lost(self) -> int:
        return self.placed - self.recorded


@dataclass
class AttackRow:
    attack: str
    tried: int = 0
    refused: int = 0
    let_through: int = 0
    note: str = ""


@dataclass
class Bench:
    settings: Settings
    secrets: Secrets
    asterisk: AsteriskProcess
    database: str  # the PostgreSQL database's name
    hotline: Hotline
    callers: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # fault → caller-number prefixes

    @property
    def engine(self) -> Any:
        return self.hotline.app[keys.ENGINE]

    async def place(self, fault: FaultRow, number: str, caller: str, scenario: str = "citizen_hangs_up.xml",
                    hang_up_after_ms: int = SHORT_CALL_MS) -> int:
        fault.placed += 1
        self.callers.setdefault(fault.fault, []).append(caller[:20])
        process = await self.hotline.citizen_call(number, hang_up_after_ms, caller, scenario)
        return process.process.returncode or 0

    async def recorded(self, fault: FaultRow) -> int:
        await self.hotline.app[keys.CALL_WRITER].drain(timeout=30)
        found = 0
        async with self.engine.connect() as connection:
            for prefix in self.callers.get(fault.fault, []):
                query = select(func.count()).select_from(Call).where(Call.caller_number.startswith(prefix))
                found += int((await connection.execute(query)).scalar_one() > 0)
        return found


# ---------------------------------------------------------------------------------------------------- faults


async def long_request_uri(bench: Bench) -> FaultRow:
    row = FaultRow("refused INVITE to a 70-character number, then an ordinary call")
    await bench.place(row, "9" * 70, "13900000101", scenario="citizen_refused.xml")
    await bench.place(row, "12345", "13900000102")
    row.callbacks_due.append("13900000102")
    return row


async def long_caller_id(bench: Bench) -> FaultRow:
    row = FaultRow("caller id of 200 digits, then an ordinary call")
    await bench.place(row, "12345", "1" * 200)
    await bench.place(row, "12345", "13900000202")
    row.callbacks_due.append("13900000202")
    return row


async def database_away(bench: Bench) -> FaultRow:
    row = FaultRow("database away, agent paused: 2 give up, the agent resumes, 1 answered")
    service = bench.hotline.app[keys.AGENT_SERVICE]
    async with bench.hotline.agent("8001"):
        await service.pause("1001", "break")
        await set_connections(bench.database, allowed=False)
        try:
            for caller in ("13900000301", "13900000302"):
                await bench.place(row, "12345", caller)
                row.callbacks_due.append(caller)
            try:
                await asyncio.wait_for(service.resume("1001"), 10)
            except Exception as exc:  # what the agent's desk would show
                row.note = f"resume refused: {type(exc).__name__}"
            await bench.place(row, "12345", "13900000303", hang_up_after_ms=8_000)
        finally:
            await set_connections(bench.database, allowed=True)
    answered = await outcome_of(bench, "13900000303")
    row.note = row.note or f"third call {answered}"
    return row


async def server_gone(bench: Bench) -> FaultRow:
    row = FaultRow("server gone (classic AGI greets), then a new server")
    await bench.hotline.stop()
    for caller in ("13900000401", "13900000402"):
        await bench.place(row, "12345", caller)
        row.callbacks_due.append(caller)
    return row


FAULTS: tuple[Callable[[Bench], Awaitable[FaultRow]], ...] = (long_request_uri, long_caller_id, database_away)


# --------------------------------------------------------------------------------------------------- attacks


async def spoofed_carrier(bench: Bench) -> AttackRow:
    row = AttackRow("INVITE from 127.0.0.5 with From: carrier")
    for _ in range(3):
        sipp = Sipp(scenario="citizen_hangs_up.xml", target=bench.hotline.sip_target, local_ip=STRANGER_IP,
                    service="12345", variables={"caller": "carrier"}, pause_ms=1_000, timeout_s=15)
        async with run_sipp(sipp) as process:
            code = await process.finished()
        row.tried += 1
        row.let_through += code == 0
        row.refused += code != 0
    return row


async def open311_reads(bench: Bench, http: aiohttp.ClientSession) -> AttackRow:
    row = AttackRow("public Open311 reads (numbers in the list; orders by sequential number)")
    base = bench.hotline.web_url
    token = bench.secrets.sms_token
    params = {"token": token, "id": f"faults-{time.time_ns()}", "from": PHONE, "to": "12345", "text": PERSONAL_TEXT}
    async with http.get(f"{base}/api/sms/incoming", params=params) as response:
        assert response.status == 200, await response.text()
    pin = await bench.hotline.ensure_agent("1009") or ""
    desk = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies for 127.0.0.1
    try:
        async with desk.post(f"{base}/api/session", json={"agent_id": "1009", "pin": pin}) as response:
            session = await response.json()
            assert response.status == 200, session
        desk.headers["X-CSRF-Token"] = session.get("csrf", "")
        order = {"content": PERSONAL_TEXT, "type": "complaint", "caller_number": PHONE, "citizen_name": "王小明",
                 "address": "幸福路8号3单元"}
        async with desk.post(f"{base}/api/orders", json=order) as response:
            assert response.status == 201, await response.text()
    finally:
        await desk.close()
    async with bench.engine.connect() as connection:
        numbers = (await connection.execute(select(WorkOrder.number).where(WorkOrder.caller_number == PHONE))).all()
    assert len(numbers) == 2, f"the SMS and the desk order were not both filed: {numbers}"
    async with http.get(f"{base}/open311/v2/requests.json") as response:
        listing = await response.text()
    for secret in (PHONE, ID_NUMBER):
        row.tried += 1
        row.let_through += secret in listing
    for (number,) in numbers:
        async with http.get(f"{base}/open311/v2/requests/{number}.json") as response:
            row.tried += 1
            row.let_through += response.status == 200
    row.refused = row.tried - row.let_through
    return row


async def brute_force(bench: Bench, http: aiohttp.ClientSession) -> list[AttackRow]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(STRANGER_IP, 0)),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as stranger:
        # From the stranger's address: the throttle locks the guessing address for every account (15 minutes),
        # and the later steps log in from 127.0.0.1.
        return await _guess(bench, stranger)


async def _guess(bench: Bench, http: aiohttp.ClientSession) -> list[AttackRow]:
    base = bench.hotline.web_url
    await bench.hotline.ensure_agent("1010")
    await bench.hotline.app[keys.DIRECTORY].add_user("faults.user", "测试用户", "supervisor", "right-password-1",
                                                      datetime.now(UTC))
    rows = []
    attempts: tuple[tuple[str, str, Callable[[int], dict[str, str]]], ...] = (
        ("30 wrong PINs for agent 1010", "/api/session", lambda i: {"agent_id": "1010", "pin": f"{i:06d}"}),
        ("30 wrong passwords for a web user", "/api/portal/session",
         lambda i: {"user": "faults.user", "password": f"guess-{i}"}),
    )
    for name, path, body in attempts:
        row = AttackRow(name)
        for attempt in range(30):
            async with http.post(base + path, json=body(attempt)) as response:
                row.tried += 1
                throttled = response.status == 429
                row.refused += response.status in (401, 403, 429)
                row.let_through += attempt >= 10 and not throttled
        rows.append(row)
    return rows


async def bad_input(bench: Bench, http: aiohttp.ClientSession) -> AttackRow:
    row = AttackRow("bad input to the web API (huge ids, NUL, long fields, huge pages)")
    base = bench.hotline.web_url
    pin = await bench.hotline.ensure_agent("1011") or ""
    async with http.post(f"{base}/api/session", json={"agent_id": "1011", "pin": pin}) as response:
        session = await response.json()
        assert response.status == 200, session  # the probes must reach the handlers, not the log-in check
    headers = {"X-CSRF-Token": session.get("csrf", "")}
    probes: list[tuple[str, str, Any]] = [
        ("GET", "/api/orders/2147483648", None), ("GET", "/api/orders/" + "9" * 30, None),
        ("PATCH", "/api/orders/2147483648", {"content": "x"}), ("GET", "/api/knowledge/2147483648", None),
        ("GET", "/api/orders/2147483648/attachments/2147483648", None),
        ("GET", "/api/orders/search?q=%00abc", None), ("GET", "/api/knowledge?q=%00abc", None),
        ("POST", "/api/orders", {"content": "噪音\x00扰民", "type": "complaint"}),
        ("POST", "/api/orders", {"content": "噪音扰民", "type": "complaint", "citizen_name": "名" * 5000}),
        ("POST", "/api/orders", {"content": "x" * 200_000, "type": "complaint", "address": "路" * 5000}),
        ("GET", "/open311/v2/requests.json?page=99999999999999999999", None),
        ("GET", "/open311/v2/requests.json?start_date=99999-01-01T00:00:00Z", None),
        ("GET", "/open311/v2/requests/99999999999999999999.json", None),
    ]
    for method, path, body in probes:
        async with http.request(method, base + path, json=body, headers=headers) as response:
            row.tried += 1
            row.let_through += response.status >= 500
            row.refused += 400 <= response.status < 500
    params = {"token": bench.secrets.sms_token, "id": f"nul-{time.time_ns()}", "from": "13900000501",
              "to": "12345", "text": "路灯\x00坏了"}
    async with http.get(f"{base}/api/sms/incoming", params=params) as response:
        row.tried += 1
        row.let_through += response.status >= 500  # a NUL in an SMS is stored (2xx), never lost to a 5xx
        row.refused += response.status < 500
    return row


async def kannel_box_from_stranger(bench: Bench) -> AttackRow:
    row = AttackRow("a box connecting to bearerbox from 127.0.0.5", tried=1)
    port = bench.settings.sms.box_port
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", port, local_addr=(STRANGER_IP, 0)), 5)
    except OSError as exc:
        row.refused, row.note = 1, f"connection refused ({exc.strerror})"
        return row
    try:
        closed = await asyncio.wait_for(reader.read(1), 3) == b""
    except TimeoutError:
        closed = False
    finally:
        writer.close()
    row.refused, row.let_through = int(closed), int(not closed)
    row.note = "closed by bearerbox" if closed else "kept open"
    return row


async def ami_system(bench: Bench) -> AttackRow:
    """Originate with the System application needs the `system` class: the server's user must not have it."""
    row = AttackRow("the server's AMI user runs Originate(System)", tried=1)
    action = {"Action": "Originate", "Channel": "Local/s@nowhere", "Application": "System", "Data": "true"}
    try:
        await bench.hotline.app[keys.AMI].action(action, timeout=10)
        message = "accepted"
    except AmiActionFailed as exc:
        message = str(exc)
    # Asterisk names the missing `system` class as "Originate Access Forbidden: app or data blacklisted".
    refused = "forbidden" in message.lower() or "privilege" in message.lower()
    row.refused, row.let_through, row.note = int(refused), int(not refused), message[:80]
    return row


async def svwar(bench: Bench) -> AttackRow:
    row = AttackRow("svwar enumerating seats 8001–8010 and carrier")
    if shutil.which("svwar") is None:
        await asyncio.to_thread(subprocess.run, ["apt-get", "install", "-y", "-q", "sipvicious"], check=True,
                                capture_output=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as names:
        names.write("\n".join([*(str(seat) for seat in range(8001, 8011)), "carrier"]) + "\n")
        names.flush()
        result = await asyncio.create_subprocess_exec(
            "svwar", "-d", names.name, "-m", "REGISTER", "-t", "0.05", f"udp://127.0.0.1:{bench.settings.sip.port}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output = (await asyncio.wait_for(result.communicate(), 60))[0].decode(errors="replace")
    found = [line for line in output.splitlines() if line.startswith("|") and "Extension" not in line]
    row.tried = 11
    row.let_through = len([line for line in found if line.strip("|- ")])
    row.refused = row.tried - row.let_through
    row.note = f"svwar found {row.let_through}"
    return row


# ------------------------------------------------------------------------------------------------- callbacks


async def place_unsafe_missed_calls(bench: Bench) -> None:
    for number in UNSAFE_NUMBERS:
        await bench.hotline.citizen_call("12345", SHORT_CALL_MS, number)


def citizens_phones() -> Sipp:
    """The citizens' phones behind the carrier, answering every callback from the start: one dialled while an
    agent happens to be free (the resumed one) is answered like any other."""
    return Sipp(scenario="citizen_answers_callback.xml", target="", local_ip=CARRIER_IP,
                local_port=CITIZEN_PHONE_PORT, pause_ms=2_000, timeout_s=900, calls=50)


async def callbacks_made(bench: Bench, due: list[str], seconds: float) -> tuple[dict[str, str], int]:
    """An agent answers (the citizens' phones answer all along). Per due number: the callback's status
    (`answered` once made); and how many of the unsafe numbers were dialled."""
    store = CallbackStore(bench.engine)
    statuses: dict[str, str] = {}
    async with bench.hotline.agent("8002"):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            statuses = {number: ",".join(c.status for c in await store.for_number(number)) or "none"
                        for number in due}
            if all(status == "answered" for status in statuses.values()):
                break
            await asyncio.sleep(1)
    dialled = 0
    for number in UNSAFE_NUMBERS:
        dialled += any(c.attempts > 0 for c in await store.for_number(number))
    return statuses, dialled


# -------------------------------------------------------------------------------------------------- the run


async def outcome_of(bench: Bench, caller: str) -> str:
    await bench.hotline.app[keys.CALL_WRITER].drain(timeout=30)
    async with bench.engine.connect() as connection:
        found = (await connection.execute(select(Call.outcome).where(Call.caller_number == caller))).scalar()
    return str(found or "not recorded")


async def set_connections(database: str, allowed: bool) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                                database)
    finally:
        await admin.close()


@asynccontextmanager
async def instance(data: Path) -> AsyncIterator[tuple[Settings, Secrets, AsteriskProcess, str]]:
    settings = load_settings(environ={**BENCH_ENVIRONMENT, "HOTLINE_DATA_DIR": str(data)})
    secrets, layout = prepare_instance(settings, lambda *_: None, fresh=True)
    asterisk = AsteriskProcess(layout, settings.asterisk.start_timeout)
    if await asterisk.is_running():
        await asterisk.stop()
    await asterisk.start()
    try:
        async with fresh_postgres_database("hotline_faults") as url:
            yield dataclasses.replace(settings, database_url=url), secrets, asterisk, url.rsplit("/", 1)[1]
    finally:
        await asterisk.stop()


async def run(arguments: argparse.Namespace) -> tuple[list[FaultRow], list[AttackRow]]:
    data = Path(tempfile.mkdtemp(prefix="hotline-faults-"))
    faults: list[FaultRow] = []
    attacks: list[AttackRow] = []
    try:
        async with instance(data) as (settings, secrets, asterisk, database), run_sipp(citizens_phones()):
            async with start_hotline(settings, secrets, asterisk) as hotline:
                bench = Bench(settings, secrets, asterisk, database, hotline)
                for probe in FAULTS:
                    faults.append(await probe(bench))
                    print(f"fault done: {faults[-1].fault}", flush=True)
                gone = await server_gone(bench)
            async with start_hotline(settings, secrets, asterisk) as hotline:
                bench.hotline = hotline
                faults.append(gone)
                for row in faults:
                    row.recorded = await bench.recorded(row)
                    row.callbacks_due = [n for n in row.callbacks_due if await outcome_of(bench, n) in MISSED_OUTCOMES]
                await place_unsafe_missed_calls(bench)
                due = [number for row in faults for number in row.callbacks_due]
                statuses, dialled = await callbacks_made(bench, due, arguments.callback_seconds)
                for row in faults:
                    row.callbacks_made = sum(statuses[number] == "answered" for number in row.callbacks_due)
                    missing = {n: statuses[n] for n in row.callbacks_due if statuses[n] != "answered"}
                    row.note = "; ".join(filter(None, [row.note, f"callbacks not made: {missing}" if missing else ""]))
                attacks.append(AttackRow("callbacks to 0090…, +882…, 00 86…, 110", tried=len(UNSAFE_NUMBERS),
                                         refused=len(UNSAFE_NUMBERS) - dialled, let_through=dialled))
                attacks.append(await spoofed_carrier(bench))
                async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                    attacks.append(await open311_reads(bench, http))
                    attacks.extend(await brute_force(bench, http))
                    attacks.append(await bad_input(bench, http))
                attacks.append(await kannel_box_from_stranger(bench))
                attacks.append(await ami_system(bench))
                attacks.append(await svwar(bench))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return faults, attacks


def print_tables(faults: list[FaultRow], attacks: list[AttackRow]) -> None:
    print("\n| fault | calls placed | recorded | lost | callbacks due | callbacks made | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for f in faults:
        print(f"| {f.fault} | {f.placed} | {f.recorded} | {f.lost} | {len(f.callbacks_due)} | {f.callbacks_made} "
              f"| {f.note} |")
    print(f"| **total** | {sum(f.placed for f in faults)} | {sum(f.recorded for f in faults)} "
          f"| {sum(f.lost for f in faults)} | {sum(len(f.callbacks_due) for f in faults)} "
          f"| {sum(f.callbacks_made for f in faults)} | |")
    print("\n| attack | tried | refused | let through | note |")
    print("| --- | ---: | ---: | ---: | --- |")
    for a in attacks:
        print(f"| {a.attack} | {a.tried} | {a.refused} | {a.let_through} | {a.note} |")
    print(f"| **total** | {sum(a.tried for a in attacks)} | {sum(a.refused for a in attacks)} "
          f"| {sum(a.let_through for a in attacks)} | |")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--callback-seconds", type=float, default=120,
                        help="how long the agent and the citizens' phones wait for the callbacks")
    return parser.parse_args(argv)


def main() -> None:
    started = time.monotonic()
    faults, attacks = asyncio.run(run(parse()))
    print_tables(faults, attacks)
    print(f"\n{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
