"""Children the hotline starts (Asterisk, Kannel's boxes) outlive it when it is killed (SIGKILL, the OOM killer, a
crash) and would hold the next start's ports and instance. Each start leaves a record beside the child's files (its
pid and the starter's); the next start reads it and stops what a dead run left behind before starting anything.

A child is left behind when the record's child still runs with the configuration the record belongs to (its
command line names it: a reused pid is not ours) and the process that started it is gone. A live starter's
children are never touched."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildRecord:
    path: Path
    marker: str  # what the child's command line holds: its configuration file

    def write(self, child_pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private, as the data dir
        with os.fdopen(descriptor, "w", encoding="ascii") as record:
            record.write(f"{child_pid} {os.getpid()}\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def left_behind(self) -> int | None:
        """The pid of the child a dead run left running, if there is one."""
        try:
            child, starter = (int(field) for field in self.path.read_text(encoding="ascii").split())
        except (OSError, ValueError):
            return None
        if starter != os.getpid() and _command_line(starter):
            return None  # its starter still runs (another `hotline up`): not ours to stop
        return child if self.marker in _command_line(child) else None

    async def stop_left_behind(self, what: str, grace: float) -> None:
        """Stops the child a dead run left (logged, with its pid), and forgets the record."""
        pid = self.left_behind()
        if pid is not None:
            logger.warning("%s (pid %d) was left running by a hotline that died: stopping it before starting "
                           "again", what, pid)
            await stop(pid, grace)
        self.remove()


def _command_line(pid: int) -> str:
    """The process's command line, or "" when it is gone (a zombie's is empty too)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


async def stop(pid: int, grace: float) -> None:
    """SIGTERM (Asterisk and Kannel shut down cleanly on it), SIGKILL after `grace` seconds; returns once the
    process has exited (a pidfd says so: it is not our child, so there is nothing to wait() on)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
            if await _exited(pidfd, grace):
                return
            logger.warning("pid %d did not stop within %g s of %s", pid, grace, signum.name)
    finally:
        os.close(pidfd)


async def _exited(pidfd: int, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    gone = asyncio.Event()
    loop.add_reader(pidfd, gone.set)
    try:
        async with asyncio.timeout(timeout):
            await gone.wait()
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(pidfd)
