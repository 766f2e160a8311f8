"""Asterisk as our child process: start it (first stopping one a dead run left behind), wait until it is fully
booted, stop it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
from pathlib import Path

from ivr.asterisk.layout import AsteriskLayout
from ivr.orphans import ChildRecord

logger = logging.getLogger(__name__)
STOP_GRACE = 15.0  # seconds Asterisk has to stop before it is killed


class AsteriskStartError(RuntimeError):
    """Asterisk exited or did not finish booting; the message carries the end of its log."""


class AsteriskProcess:
    def __init__(self, layout: AsteriskLayout, start_timeout: float) -> None:
        self.layout = layout
        self.start_timeout = start_timeout
        self.process: asyncio.subprocess.Process | None = None
        self.console_log: Path = layout.host("log") / "console.log"
        self.record = ChildRecord(layout.host("run") / "hotline-child.pid", str(layout.config_file))

    async def start(self) -> None:
        await self.record.stop_left_behind(f"Asterisk of {self.layout.config_file}", STOP_GRACE)
        if await self.is_running():
            raise AsteriskStartError(
                f"an Asterisk already runs with {self.layout.config_file}: stop it with 'hotline asterisk stop'"
            )
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        with self.console_log.open("ab") as log:
            # -f: stay in the foreground as our child; no -U/-G (they drop the capabilities it needs).
            self.process = await asyncio.create_subprocess_exec(
                *self.layout.command("-f"), stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        self.record.write(self.process.pid)
        logger.info("asterisk started (pid %s), log %s", self.process.pid, self.console_log)
        await self.wait_fully_booted()

    async def wait_fully_booted(self) -> None:
        async with asyncio.timeout(self.start_timeout):
            while True:
                if self.process is not None and self.process.returncode is not None:
                    raise AsteriskStartError(f"asterisk exited with {self.process.returncode}:\n{self.log_tail()}")
                if await self.cli("core waitfullybooted", timeout=5) is not None:
                    return
                await asyncio.sleep(0.2)

    async def is_running(self) -> bool:
        return await self.cli("core show version", timeout=5) is not None

    async def cli(self, command: str, timeout: float = 10) -> str | None:
        """Run one CLI command through the control socket; None when Asterisk is not reachable."""
        runner = await asyncio.create_subprocess_exec(
            *self.layout.command("-rx", command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(timeout):
                output, _ = await runner.communicate()
        except TimeoutError:
            runner.kill()
            await runner.wait()
            return None
        text = output.decode(errors="replace")
        if runner.returncode != 0 or "Unable to connect to remote asterisk" in text:
            return None
        return text

    async def stop(self, timeout: float = STOP_GRACE) -> None:
        await self.cli("core stop now", timeout=timeout)
        if self.process is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self.record.remove()
        logger.info("asterisk stopped (exit %s)", self.process.returncode)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no console log)"
