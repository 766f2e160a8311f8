"""The whole call path under load: SIPp citizens through greeting → queue → agent answer → hang-up.

A real Asterisk (the sandbox, its own instance and ports), the real hotline server in this process, N
agents logged in with a SIPp softphone each, and, per level, L citizens started at 50 calls/s (one SIPp
process, `-l L -m L`), each staying `--call-seconds` after the answer. For each level it prints: SIPp's
failed calls, the calls stored (answered / abandoned), and the CPU used by Asterisk and by our server
process (utime+stime from /proc, per second of wall time). Only loopback addresses are used; every
SIPp process has a timeout; Asterisk is stopped at the end.

    sudo .venv/bin/python -m bench.call_load --agents 40 --levels 50,100,200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import func, select

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.asterisk.setup import prepare_instance
from ivr.db.models import Call
from ivr.democall import Sipp
from ivr.settings import load_settings
from tests.helpers import CARRIER_IP, Hotline, run_sipp, start_hotline

BENCH_ENVIRONMENT = {
    "HOTLINE_SIP_PORT": "25060",
    "HOTLINE_AMI_PORT": "25038",
    "HOTLINE_FASTAGI_PORT": "24573",
    "HOTLINE_WEB_PORT": "28080",
    "HOTLINE_SIP_BIND": "127.0.0.1",
    "HOTLINE_ASTERISK_MODE": "sandbox",
    "HOTLINE_ASTERISK_INSTANCE": "bench",
    "HOTLINE_QUEUE_WRAPUP_SECONDS": "1",
    "HOTLINE_SIP_RTP_START": "30000",
    "HOTLINE_SIP_RTP_END": "31999",
    "HOTLINE_LOG_LEVEL": "WARNING",
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class LevelResult:
    concurrent: int
    sipp_exit: int
    failed_calls: int
    answered: int
    abandoned: int
    other: int
    wall_seconds: float
    asterisk_cpu: float  # CPU seconds per wall second (1.0 = one core)
    server_cpu: float
    call_writes: int  # transactions the call writer made (each carries many calls' rows)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def failed_calls(workdir: Path) -> int:
    """SIPp's own count from its final screen (the 'Failed call' line, cumulative column)."""
    for line in (workdir / "screen.log").read_text(errors="replace").splitlines()[::-1]:
        if line.strip().startswith("Failed call"):
            return int(line.split("|")[-1].split()[0])
    return -1


def error_kinds(workdir: Path) -> Counter[str]:
    """SIPp's error log, one line per event, without its call ids and times (retransmissions of calls
    already finished are not failures and are left out)."""
    log = workdir / "errors.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    events = re.findall(r"\d+\.\d+: (.+?)(?=\d{4}-\d\d-\d\d\t|\Z)", text, flags=re.S)
    kinds = (re.sub(r"[\d.@-]+", "#", event.splitlines()[0])[:120] for event in events)
    return Counter(kind for kind in kinds if not kind.startswith("Dead call"))


async def run_level(hotline: Hotline, asterisk_pid: int, concurrent: int, call_seconds: int) -> LevelResult:
    before = (time.monotonic(), cpu_seconds(asterisk_pid), cpu_seconds(os.getpid()))
    counts_before = await stored_outcomes(hotline)
    writes_before = hotline.app[keys.CALL_WRITER].writes
    sipp = Sipp(scenario="citizen_hangs_up.xml", target=hotline.sip_target, local_ip=CARRIER_IP, service="12345",
                variables={"caller": "13800000000"}, pause_ms=call_seconds * 1000, timeout_s=call_seconds + 90,
                calls=concurrent, rate=50)
    async with run_sipp(sipp) as citizens:
        exit_code = await citizens.finished()
        failed = failed_calls(citizens.workdir)
        if failed:
            print(f"SIPp's errors at {concurrent} concurrent calls, by kind:")
            for kind, count in error_kinds(citizens.workdir).most_common(6):
                print(f"  {count:5d}  {kind}")
    await hotline.app[keys.CALL_WRITER].drain(timeout=30)
    after = (time.monotonic(), cpu_seconds(asterisk_pid), cpu_seconds(os.getpid()))
    counts = await stored_outcomes(hotline)
    delta = {outcome: counts.get(outcome, 0) - counts_before.get(outcome, 0) for outcome in counts}
    wall = after[0] - before[0]
    return LevelResult(
        concurrent, exit_code, failed, delta.get("answered", 0), delta.get("abandoned", 0),
        sum(v for k, v in delta.items() if k not in ("answered", "abandoned")), wall,
        (after[1] - before[1]) / wall, (after[2] - before[2]) / wall,
        hotline.app[keys.CALL_WRITER].writes - writes_before,
    )


async def stored_outcomes(hotline: Hotline) -> dict[str, int]:
    query = select(Call.outcome, func.count()).group_by(Call.outcome)
    async with hotline.app[keys.ENGINE].connect() as connection:
        return {outcome: int(count) for outcome, count in (await connection.execute(query)).all()}


async def main(arguments: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    settings = load_settings(environ={**BENCH_ENVIRONMENT, "HOTLINE_DATA_DIR": str(data)})
    settings = replace(settings, database_url=f"sqlite+aiosqlite:///{data / 'bench.db'}")
    secrets, layout = prepare_instance(settings, print, fresh=True)
    asterisk = AsteriskProcess(layout, settings.asterisk.start_timeout)
    await asterisk.start()
    results: list[LevelResult] = []
    try:
        async with start_hotline(settings, secrets, asterisk) as hotline, AsyncExitStack() as agents:
            for seat in settings.seat_numbers[: arguments.agents]:
                await agents.enter_async_context(hotline.agent(seat))
            print(f"{arguments.agents} agents logged in and registered", flush=True)
            assert asterisk.process is not None
            for level in arguments.levels:
                result = await run_level(hotline, asterisk.process.pid, level, arguments.call_seconds)
                results.append(result)
                print(result, flush=True)
    finally:
        await asterisk.stop()
        shutil.rmtree(data, ignore_errors=True)
    print_table(arguments, results)


def print_table(arguments: argparse.Namespace, results: list[LevelResult]) -> None:
    print(f"\n{arguments.agents} agents, each citizen stays {arguments.call_seconds} s after the answer "
          f"(greeting ~5 s, then the queue); CPU = core-seconds per second of wall time")
    print("concurrent  sipp exit  failed  answered  abandoned  other  wall s  Asterisk CPU  server CPU"
          "  server/Asterisk  call writes")
    for r in results:
        ratio = r.server_cpu / r.asterisk_cpu if r.asterisk_cpu else float("nan")
        print(f"{r.concurrent:>10}  {r.sipp_exit:>9}  {r.failed_calls:>6}  {r.answered:>8}  {r.abandoned:>9}  "
              f"{r.other:>5}  {r.wall_seconds:>6.1f}  {r.asterisk_cpu:>12.2f}  {r.server_cpu:>10.2f}  {ratio:>15.2f}  "
              f"{r.call_writes:>11}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--levels", type=lambda text: [int(x) for x in text.split(",")], default=[50, 100, 200])
    parser.add_argument("--call-seconds", type=int, default=20)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
