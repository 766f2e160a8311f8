"""FastAGI load generator: plays Asterisk's side over loopback TCP against two FastAGI servers.

Servers measured, each in its own process (spawned, so the load generator never shares their event loop):

* ``ours``       -- ``ivr.fastagi.FastAgiServer`` with a ``Router`` holding the script ``bench``;
* ``panoramisk`` -- panoramisk 1.4's ``panoramisk.fast_agi.Application`` behind ``asyncio.start_server``.

Both run the same call flow: ``agi_arg_1`` times ``GET VARIABLE X``, then the server closes the connection.
The fake Asterisk (an ``asyncio.Protocol`` in this process) sends a realistic AGI environment ending
with a blank line and answers each ``GET VARIABLE X`` with ``200 result=1 (value)``.

Per run it reports sessions/s, commands/s and the per-command latency seen by Asterisk: the time from
writing the environment (first command) or the previous reply to receiving the next command line, i.e.
the server's turnaround including loopback and queueing. Then the "half header" check: a client sends
``agi_network: yes`` / ``agi_network_script: bench`` without the terminating blank line and closes; we
record whether the server still answers a normal session and how much CPU it burns meanwhile.

Everything is bounded: sessions by count and by a per-run time limit, each session by a timeout, each
server process by ``signal.alarm`` (the kernel ends it even if its event loop spins), and the load
generator stops, then terminates and finally kills the server processes. Only 127.0.0.1 is used.

Run: ``.venv/bin/python -m bench.fastagi_load`` (``--help`` for the flags).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import ctypes
import logging
import math
import multiprocessing
import os
import platform
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Final

from panoramisk.fast_agi import Application

from ivr.fastagi import AgiCall, FastAgiServer, Router
from ivr.settings import FastAgiSettings

HOST: Final = "127.0.0.1"
SCRIPT: Final = "bench"
OURS: Final = "ours"
PANORAMISK: Final = "panoramisk"
SERVERS: Final = (OURS, PANORAMISK)
COMMAND: Final = b"GET VARIABLE X"
REPLY: Final = b"200 result=1 (value)\n"
OTHER_REPLY: Final = b"200 result=1\n"
HALF_HEADER: Final = b"agi_network: yes\nagi_network_script: bench\n"
READY_TIMEOUT: Final = 20.0  # seconds a spawned server has to import, bind and report its port
WARMUP_SESSIONS: Final = 100

ServerStop = Callable[[], Awaitable[None]]


# --------------------------------------------------------------------------------------------------
# The servers (run in child processes)
# --------------------------------------------------------------------------------------------------


async def _ours_handler(call: AgiCall, _context: None) -> None:
    for _ in range(int(call.env.get("agi_arg_1", "1"))):
        await call.get_variable("X")


def _no_context(_call: AgiCall) -> None:
    return None


async def _panoramisk_endpoint(request: Any) -> None:
    # An `async def`: panoramisk 1.4 wraps plain functions with asyncio.coroutine, gone in Python 3.11.
    for _ in range(int(request.headers.get("agi_arg_1", "1"))):
        await request.send_command("GET VARIABLE X")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


async def _start_ours() -> tuple[int, ServerStop]:
    router: Router[None] = Router()
    router.add(SCRIPT, _ours_handler)
    last_error: OSError | None = None
    for _ in range(5):  # FastAgiServer binds settings.port: probe a free one, retry if it was taken meanwhile
        port = _free_port()
        server = FastAgiServer(FastAgiSettings(host=HOST, port=port), router, _no_context)
        try:
            await server.start()
        except OSError as exc:
            last_error = exc
            continue
        return port, server.stop
    raise RuntimeError(f"could not bind a port for our FastAGI server: {last_error}")


async def _start_panoramisk() -> tuple[int, ServerStop]:
    app = Application(loop=asyncio.get_running_loop())
    app.add_route(SCRIPT, _panoramisk_endpoint)
    server = await asyncio.start_server(app.handler, HOST, 0)
    port: int = server.sockets[0].getsockname()[1]

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return port, stop


async def _serve(kind: str, conn: Connection, lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    # Any message (or EOF, if the load generator died) on the pipe means: stop.
    loop.add_reader(conn.fileno(), stop_requested.set)
    port, stop = await (_start_ours() if kind == OURS else _start_panoramisk())
    conn.send(port)
    try:
        async with asyncio.timeout(lifetime):
            await stop_requested.wait()
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(conn.fileno())
        await stop()


PR_SET_PDEATHSIG: Final = 1  # from <linux/prctl.h>


def _die_with_parent() -> None:
    """Linux: have the kernel kill this process if the load generator dies (best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _server_main(kind: str, conn: Connection, lifetime: float, log_level: str, profile_path: str | None) -> None:
    """Entry point of a server process; ends by itself after `lifetime` s at the latest."""
    _die_with_parent()
    # SIGALRM keeps its default action (terminate), so this holds even if the event loop never yields.
    signal.alarm(max(1, math.ceil(lifetime + 10)))
    logging.basicConfig(level=log_level, format=f"[{kind} server] %(levelname)s %(name)s: %(message)s")
    profiler = cProfile.Profile() if profile_path else None
    if profiler is not None:
        profiler.enable()
    try:
        asyncio.run(_serve(kind, conn, lifetime))
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)
        conn.close()


@dataclass
class ServerProcess:
    kind: str
    process: BaseProcess
    conn: Connection
    port: int

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid


def start_server(kind: str, lifetime: float, log_level: str, profile_path: Path | None = None) -> ServerProcess:
    ctx = multiprocessing.get_context("spawn")
    parent_conn, child_conn = ctx.Pipe()
    process = ctx.Process(
        target=_server_main,
        args=(kind, child_conn, lifetime, log_level, str(profile_path) if profile_path else None),
        name=f"fastagi-{kind}",
        daemon=True,
    )
    process.start()
    child_conn.close()
    server = ServerProcess(kind, process, parent_conn, 0)
    try:
        if not parent_conn.poll(READY_TIMEOUT):
            raise RuntimeError(f"the {kind} server did not start within {READY_TIMEOUT:g} s")
        server.port = int(parent_conn.recv())
    except (RuntimeError, EOFError, OSError) as exc:
        stop_server(server, grace=1.0)
        raise RuntimeError(f"the {kind} server failed to start: {exc}") from exc
    return server


def stop_server(server: ServerProcess, grace: float) -> str:
    """Ask the server to stop; terminate, then kill it if it does not. Returns how it ended."""
    with contextlib.suppress(OSError, ValueError):
        server.conn.send("stop")
    server.process.join(grace)
    how = f"exited ({server.process.exitcode})"
    if server.process.is_alive():
        server.process.terminate()
        server.process.join(2.0)
        how = "killed (SIGTERM)"
    if server.process.is_alive():
        server.process.kill()
        server.process.join(2.0)
        how = "killed (SIGKILL)"
    server.conn.close()
    return how


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat_file:
        stat = stat_file.read()
    fields = stat[stat.rindex(")") + 2 :].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------------
# The fake Asterisk (runs in this process)
# --------------------------------------------------------------------------------------------------


def agi_environment(port: int, commands: int, uniqueid: str = "1718000000.42") -> bytes:
    """What Asterisk 20 sends for AGI(agi://127.0.0.1:port/bench,commands): ~510 bytes, then a blank line."""
    pairs = [
        ("agi_network", "yes"),
        ("agi_network_script", SCRIPT),
        ("agi_request", f"agi://{HOST}:{port}/{SCRIPT}"),
        ("agi_channel", "PJSIP/carrier-0000002a"),
        ("agi_language", "zh"),
        ("agi_type", "PJSIP"),
        ("agi_uniqueid", uniqueid),
        ("agi_version", "20.5.0"),
        ("agi_callerid", "13800138000"),
        ("agi_calleridname", "unknown"),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", "12345"),
        ("agi_rdnis", "unknown"),
        ("agi_context", "from-carrier"),
        ("agi_extension", "12345"),
        ("agi_priority", "3"),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", "139912345678912"),
        ("agi_arg_1", str(commands)),
    ]
    return "".join(f"{key}: {value}\n" for key, value in pairs).encode() + b"\n"


class FakeAsterisk(asyncio.Protocol):
    """One AGI session from Asterisk's side: send the environment, answer every command line."""

    def __init__(self, environment: bytes, latencies: list[int], done: asyncio.Future[None]) -> None:
        self.environment = environment
        self.latencies = latencies
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.sent_at = 0
        self.commands = 0
        self.unexpected = 0
        self.error: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sent_at = time.perf_counter_ns()
        transport.write(self.environment)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        self.buffer += data
        while (end := self.buffer.find(b"\n")) >= 0:
            line = self.buffer[:end].rstrip(b"\r")
            self.buffer = self.buffer[end + 1 :]
            self.latencies.append(now - self.sent_at)
            if line == COMMAND:
                self.commands += 1
                reply = REPLY
            else:  # e.g. a server reporting a failure with SET VARIABLE: answer, but count it
                self.unexpected += 1
                reply = OTHER_REPLY
            self.sent_at = time.perf_counter_ns()
            assert self.transport is not None
            self.transport.write(reply)

    def eof_received(self) -> bool:
        return False  # the server ended the session: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.error = exc
        if not self.done.done():
            self.done.set_result(None)


@dataclass
class Session:
    ok: bool
    commands: int
    seconds: float
    problem: str = ""


async def one_session(port: int, environment: bytes, expected: int, latencies: list[int], timeout: float) -> Session:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    protocol = FakeAsterisk(environment, latencies, done)
    transport: asyncio.Transport | None = None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await loop.create_connection(lambda: protocol, HOST, port)
            await done
    except TimeoutError:
        if transport is not None:
            transport.abort()
        return Session(False, protocol.commands, time.perf_counter() - started, f"no end within {timeout:g} s")
    except OSError as exc:
        if transport is not None:
            transport.abort()
        return Session(False, protocol.commands, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    if protocol.error is not None:
        return Session(False, protocol.commands, seconds, f"connection lost: {protocol.error}")
    if protocol.commands != expected or protocol.unexpected:
        problem = f"{protocol.commands}/{expected} commands, {protocol.unexpected} unexpected"
        return Session(False, protocol.commands, seconds, problem)
    return Session(True, protocol.commands, seconds)


def percentile(ordered: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending sequence."""
    if not ordered:
        return 0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


@dataclass
class RunResult:
    server: str
    concurrency: int
    commands_per_session: int
    sessions_ok: int = 0
    sessions_failed: int = 0
    commands: int = 0
    wall: float = 0.0
    latencies: list[int] = field(default_factory=list, repr=False)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    overran: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def sessions_per_second(self) -> float:
        return self.sessions_ok / self.wall if self.wall else 0.0

    @property
    def commands_per_second(self) -> float:
        return self.commands / self.wall if self.wall else 0.0


async def run_load(
    server: ServerProcess,
    concurrency: int,
    sessions: int,
    commands: int,
    max_seconds: float,
    session_timeout: float,
) -> RunResult:
    """`concurrency` workers run sessions back to back until `sessions` ran or `max_seconds` passed."""
    loop = asyncio.get_running_loop()
    result = RunResult(server.kind, concurrency, commands)
    environment = agi_environment(server.port, commands)
    remaining = sessions
    deadline = loop.time() + max_seconds

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0 and loop.time() < deadline:
            remaining -= 1
            session = await one_session(server.port, environment, commands, result.latencies, session_timeout)
            result.commands += session.commands
            if session.ok:
                result.sessions_ok += 1
            else:
                result.sessions_failed += 1
                if len(result.problems) < 5:
                    result.problems.append(session.problem)

    server_cpu = process_cpu_seconds(server.pid)
    client_cpu = time.process_time()
    started = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        async with asyncio.timeout(max_seconds + session_timeout + 5.0):
            await asyncio.gather(*workers)
    except TimeoutError:
        result.overran = True
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    result.wall = time.perf_counter() - started
    result.client_cpu = time.process_time() - client_cpu
    result.server_cpu = process_cpu_seconds(server.pid) - server_cpu
    result.latencies.sort()
    return result


async def run_all(servers: Sequence[ServerProcess], args: argparse.Namespace) -> list[RunResult]:
    for server in servers:  # warm-up: imports, code paths, socket buffers; not reported
        await run_load(server, 10, WARMUP_SESSIONS, args.commands, args.max_seconds, args.session_timeout)
    results = []
    for concurrency in args.concurrency:
        for _ in range(args.repeat):
            for server in servers:  # alternate the servers so slow drifts of the machine hit both
                result = await run_load(
                    server, concurrency, args.sessions, args.commands, args.max_seconds, args.session_timeout
                )
                results.append(result)
                print(f"  {_result_line(result)}", file=sys.stderr, flush=True)
    return results


def _result_line(result: RunResult) -> str:
    return (
        f"{result.server} c={result.concurrency}: {result.sessions_ok} sessions in {result.wall:.2f} s, "
        f"{result.commands_per_second:,.0f} commands/s, {result.sessions_failed} failed"
    )


# --------------------------------------------------------------------------------------------------
# The half-header check
# --------------------------------------------------------------------------------------------------


@dataclass
class HalfHeaderResult:
    server: str
    answered_before: bool
    answered_after: bool
    answer_seconds: float | None
    cpu_percent: float
    cpu_window: float
    problem: str = ""
    ended: str = ""


async def send_half_header(port: int, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        _, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(HALF_HEADER)  # no terminating blank line ...
            await writer.drain()
        finally:
            writer.close()  # ... then FIN
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def half_header_check(
    server: ServerProcess, commands: int, answer_timeout: float, cpu_window: float
) -> HalfHeaderResult:
    environment = agi_environment(server.port, commands)
    before = await one_session(server.port, environment, commands, [], answer_timeout)
    await send_half_header(server.port, answer_timeout)
    await asyncio.sleep(0.2)  # let the server read the fragment and the EOF
    cpu_start = process_cpu_seconds(server.pid)
    window_start = time.perf_counter()
    after = await one_session(server.port, environment, commands, [], answer_timeout)
    rest = cpu_window - (time.perf_counter() - window_start)
    if rest > 0:
        await asyncio.sleep(rest)
    elapsed = time.perf_counter() - window_start
    cpu = process_cpu_seconds(server.pid) - cpu_start
    return HalfHeaderResult(
        server.kind,
        before.ok,
        after.ok,
        after.seconds if after.ok else None,
        100.0 * cpu / elapsed,
        elapsed,
        after.problem or before.problem,
    )


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(header)] + [len(row[i]) for row in rows]) for i, header in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        return "  ".join([first.ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(rest, widths[1:], strict=True)])

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


@dataclass
class Summary:
    """The repeats of one server at one concurrency level: median throughput, pooled latencies."""

    runs: list[RunResult]

    @property
    def first(self) -> RunResult:
        return self.runs[0]

    @property
    def median(self) -> RunResult:
        ordered = sorted(self.runs, key=lambda run: run.commands_per_second)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def latencies(self) -> list[int]:
        return sorted(latency for run in self.runs for latency in run.latencies)

    @property
    def server_cpu_per_command(self) -> float:
        commands = sum(run.commands for run in self.runs)
        return sum(run.server_cpu for run in self.runs) / commands if commands else 0.0


def summarize(results: Sequence[RunResult]) -> list[Summary]:
    groups: dict[tuple[int, str], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.concurrency, result.server), []).append(result)
    return [
        Summary(runs) for _, runs in sorted(groups.items(), key=lambda item: (item[0][0], SERVERS.index(item[0][1])))
    ]


def load_table(summaries: Sequence[Summary]) -> str:
    headers = [
        "server",
        "conc",
        "cmds/sess",
        "runs",
        "sessions",
        "failed",
        "sessions/s",
        "commands/s",
        "commands/s range",
        "p50 µs",
        "p99 µs",
        "server CPU",
        "CPU µs/cmd",
        "client CPU",
    ]
    rows = []
    for summary in summaries:
        runs = summary.runs
        wall = sum(run.wall for run in runs)
        speeds = [run.commands_per_second for run in runs]
        latencies = summary.latencies
        rows.append(
            [
                summary.first.server + (" (overran)" if any(run.overran for run in runs) else ""),
                str(summary.first.concurrency),
                str(summary.first.commands_per_session),
                str(len(runs)),
                str(sum(run.sessions_ok for run in runs)),
                str(sum(run.sessions_failed for run in runs)),
                f"{summary.median.sessions_per_second:,.0f}",
                f"{summary.median.commands_per_second:,.0f}",
                f"{min(speeds):,.0f}-{max(speeds):,.0f}",
                f"{percentile(latencies, 0.50) / 1000:,.0f}",
                f"{percentile(latencies, 0.99) / 1000:,.0f}",
                f"{100 * sum(run.server_cpu for run in runs) / wall:.0f}%" if wall else "-",
                f"{1e6 * summary.server_cpu_per_command:.0f}",
                f"{100 * sum(run.client_cpu for run in runs) / wall:.0f}%" if wall else "-",
            ]
        )
    return format_table(headers, rows)


def ratio_lines(summaries: Sequence[Summary]) -> list[str]:
    lines = []
    by_key = {(summary.first.concurrency, summary.first.server): summary for summary in summaries}
    for concurrency in sorted({summary.first.concurrency for summary in summaries}):
        ours, base = by_key.get((concurrency, OURS)), by_key.get((concurrency, PANORAMISK))
        if ours is None or base is None or not base.median.commands_per_second or not base.server_cpu_per_command:
            continue
        speed = ours.median.commands_per_second / base.median.commands_per_second
        cpu = ours.server_cpu_per_command / base.server_cpu_per_command
        lines.append(
            f"  concurrency {concurrency:>4}: ours / panoramisk: commands/s x{speed:.2f} (median of runs), "
            f"server CPU per command x{cpu:.2f}"
        )
    return lines


def half_header_table(results: Sequence[HalfHeaderResult], answer_timeout: float) -> str:
    headers = ["server", "answers before", "answers after", "answer time", "server CPU", "server process"]
    rows = []
    for r in results:
        rows.append(
            [
                r.server,
                "yes" if r.answered_before else "no",
                "yes" if r.answered_after else f"no ({answer_timeout:g} s timeout)",
                f"{r.answer_seconds * 1000:.1f} ms" if r.answer_seconds is not None else "-",
                f"{r.cpu_percent:.0f}% over {r.cpu_window:.1f} s",
                r.ended,
            ]
        )
    return format_table(headers, rows)


def machine_line() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
        for info in cpuinfo:
            if info.startswith("model name"):
                model = info.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()} on {platform.system()}"


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def _positive_ints(text: str) -> list[int]:
    try:
        values = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(f"expected whole numbers above zero, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    return _positive_ints(text)[0]


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a number above zero, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fastagi_load",
        description="FastAGI load test over loopback: our ivr.fastagi server against panoramisk 1.4.",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_ints,
        default=[1, 50, 200],
        help="comma-separated concurrent-session levels (default: 1,50,200)",
    )
    parser.add_argument(
        "--commands", type=_positive_int, default=10, help="GET VARIABLE round trips per session (default: 10)"
    )
    parser.add_argument(
        "--sessions", type=_positive_int, default=5000, help="sessions per run, at most (default: 5000)"
    )
    parser.add_argument(
        "--max-seconds",
        type=_positive_float,
        default=2.0,
        help="a run starts no new session after this many seconds (default: 2)",
    )
    parser.add_argument(
        "--session-timeout",
        type=_positive_float,
        default=5.0,
        help="seconds one session may take before it counts as failed (default: 5)",
    )
    parser.add_argument(
        "--repeat",
        type=_positive_int,
        default=3,
        help="runs per server and concurrency level, alternating the servers (default: 3)",
    )
    parser.add_argument(
        "--servers",
        type=lambda s: [x for x in s.split(",") if x],
        default=list(SERVERS),
        help="comma-separated subset of: ours,panoramisk (default: both)",
    )
    parser.add_argument(
        "--answer-timeout",
        type=_positive_float,
        default=2.0,
        help="half-header check: seconds a normal session has to complete (default: 2)",
    )
    parser.add_argument(
        "--cpu-window",
        type=_positive_float,
        default=3.0,
        help="half-header check: seconds over which server CPU is measured (default: 3)",
    )
    parser.add_argument("--skip-half-header", action="store_true", help="skip the half-header check")
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=None,
        help="write cProfile stats of each load-test server process to DIR/<server>.prof",
    )
    parser.add_argument("--log-level", default="WARNING", help="log level in the server processes (default: WARNING)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.servers if name not in SERVERS]
    if unknown or not args.servers:
        parser.error(f"--servers: expected names from {', '.join(SERVERS)}, got {','.join(args.servers)}")
    return args


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` blocks that stop the servers


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    began = time.perf_counter()
    runs = (len(args.concurrency) * args.repeat + 1) * len(args.servers)  # the +1: warm-up
    lifetime = runs * (args.max_seconds + args.session_timeout + 5.0) + 30.0
    print(f"FastAGI load test: {machine_line()}")
    print(
        f"{args.commands} x GET VARIABLE per session, up to {args.sessions} sessions or {args.max_seconds:g} s "
        f"per run, concurrency {','.join(map(str, args.concurrency))}",
        flush=True,
    )
    if args.profile_dir is not None:
        args.profile_dir.mkdir(parents=True, exist_ok=True)

    servers: list[ServerProcess] = []
    try:
        for kind in args.servers:
            profile = args.profile_dir / f"{kind}.prof" if args.profile_dir is not None else None
            servers.append(start_server(kind, lifetime, args.log_level, profile))
        results = asyncio.run(run_all(servers, args))
    finally:
        for server in servers:
            stop_server(server, grace=5.0)

    print()
    print(
        "Load: throughput of the median run; latency = Asterisk's wait from its reply (or the environment)"
        " to the next command, pooled over the runs; CPU = server process utime+stime:"
    )
    summaries = summarize(results)
    print(load_table(summaries))
    print(*ratio_lines(summaries), sep="\n")
    for result in results:
        for problem in result.problems:
            print(f"  {result.server} c={result.concurrency}: failed session: {problem}")

    if not args.skip_half_header:
        half: list[HalfHeaderResult] = []
        for kind in args.servers:
            hh_lifetime = 2 * args.answer_timeout + args.cpu_window + 15.0
            server = start_server(kind, hh_lifetime, args.log_level)
            try:
                outcome = asyncio.run(half_header_check(server, args.commands, args.answer_timeout, args.cpu_window))
            finally:
                ended = stop_server(server, grace=1.0)
            outcome.ended = ended
            half.append(outcome)
        print()
        print(f"Half header ({HALF_HEADER!r}, then close), then one normal session:")
        print(half_header_table(half, args.answer_timeout))
    print(f"\nFinished in {time.perf_counter() - began:.1f} s.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
