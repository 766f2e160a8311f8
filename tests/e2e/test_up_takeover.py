"""`hotline up` killed with SIGKILL leaves its Asterisk and Kannel's boxes running; the next `hotline up` stops them
(saying so) and comes up: /healthz answers ok with Kannel running, and a demo call is recorded.

The command runs as a subprocess on ports and an Asterisk instance of its own (not the session's), with SQLite in
a fresh data folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from ivr import orphans
from ivr.asterisk.layout import choose_layout
from ivr.asterisk.process import AsteriskProcess
from ivr.settings import load_settings
from ivr.sms.kannel import BOXES, KannelLayout
from tests.conftest import TEST_PORTS
from tests.helpers import wait

pytestmark = pytest.mark.asterisk
WEB_PORT = 18480
OWN_PORTS = {
    "HOTLINE_SIP_PORT": "15460", "HOTLINE_AMI_PORT": "15438", "HOTLINE_FASTAGI_PORT": "14973",
    "HOTLINE_WEB_PORT": str(WEB_PORT), "HOTLINE_ASTERISK_INSTANCE": "pytest-up", "HOTLINE_SMS_RUN_KANNEL": "true",
    "HOTLINE_SMS_ADMIN_PORT": "15400", "HOTLINE_SMS_BOX_PORT": "15401", "HOTLINE_SMS_FAKE_PORT": "15410",
    "HOTLINE_SMS_SENDSMS_PORT": "15413", "HOTLINE_LOG_LEVEL": "INFO",
}
UP_LINE = "The 12345 hotline is up."


class Up:
    """One `hotline up`: its output collected as it comes, `ready` once it printed that it is up."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output: list[str] = []
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.output.append(line.decode(errors="replace"))
            if UP_LINE in self.output[-1] and not self.ready.done():
                self.ready.set_result(None)
        if not self.ready.done():
            self.ready.set_exception(AssertionError(f"hotline up exited ({await self.process.wait()}):\n"
                                                    + "".join(self.output[-40:])))

    @property
    def text(self) -> str:
        return "".join(self.output)


@asynccontextmanager
async def hotline_up(environ: dict[str, str]) -> AsyncIterator[Up]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "up", env=environ, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    up = Up(process)
    try:
        yield up
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        await up.reader


def children(environ: dict[str, str]) -> dict[str, int]:
    """The pids `hotline up` recorded for its Asterisk and Kannel's boxes."""
    settings = load_settings(environ=environ)
    kannel = KannelLayout(settings.data_dir / "kannel")
    records = {"asterisk": AsteriskProcess(choose_layout(settings), 0).record,
               **{box: kannel.record(box) for box in BOXES}}
    return {name: int(record.path.read_text().split()[0]) for name, record in records.items()
            if record.path.exists()}


def running(pid: int) -> bool:
    return Path(f"/proc/{pid}/cmdline").exists() and Path(f"/proc/{pid}/cmdline").read_bytes() != b""


async def test_hotline_up_after_a_sigkill_stops_what_the_dead_run_left_and_comes_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    environ = {**os.environ, **TEST_PORTS, **OWN_PORTS, "HOTLINE_DATA_DIR": str(data_dir)}
    left: dict[str, int] = {}
    try:
        async with hotline_up(environ) as first:
            await wait(first.ready, 90, "the first hotline up did not come up")
            left = children(environ)
            first.process.kill()
        assert set(left) == {"asterisk", "bearerbox", "smsbox"} and all(map(running, left.values())), \
            f"a killed hotline up leaves its children running: {left}"

        async with hotline_up(environ) as second:
            await wait(second.ready, 90, "hotline up did not come up after the one before was killed")
            assert not any(map(running, left.values())), "what the dead run left was stopped"
            said = [line for line in second.output if "left running by a hotline that died" in line]
            assert [what in "".join(said) for what in ("Asterisk of", "kannel bearerbox", "kannel smsbox")] == \
                [True] * 3, second.text[-3000:]
            healthz = f"http://127.0.0.1:{WEB_PORT}/healthz"
            async with aiohttp.ClientSession() as session, session.get(healthz) as answer:
                health = await answer.json()
            assert answer.status == 200 and health["sms"]["kannel"]["running"], health
            demo = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ivr", "call", "--seconds", "3", env=environ,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            output = (await demo.communicate())[0].decode()
            assert demo.returncode == 0 and "recorded: outcome" in output, output
            second.process.terminate()
            assert await second.process.wait() == 0, second.text[-3000:]
    finally:
        for pid in {*left.values(), *children(environ).values()}:
            with contextlib.suppress(ProcessLookupError):
                await orphans.stop(pid, 5)
