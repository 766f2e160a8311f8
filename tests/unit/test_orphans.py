"""A child recorded by a starter that is gone is stopped at the next start; a live starter's child, or a pid now
running something else, is left alone. (tests/e2e/test_up_takeover.py: the whole `hotline up` after a SIGKILL.)"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.orphans import ChildRecord

SLEEPER = "import time; time.sleep(60)"


@pytest.fixture
async def child() -> AsyncIterator[asyncio.subprocess.Process]:
    """A process whose command line names its configuration, as Asterisk's and Kannel's do."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", SLEEPER, "/srv/test/child.conf")
    yield process
    if process.returncode is None:
        process.kill()
        await process.wait()


async def gone_pid() -> int:
    finished = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await finished.wait()
    return finished.pid


async def test_a_child_whose_starter_died_is_stopped(child: asyncio.subprocess.Process, tmp_path: Path) -> None:
    record = ChildRecord(tmp_path / "child.pid", "/srv/test/child.conf")
    record.path.write_text(f"{child.pid} {await gone_pid()}\n")
    assert record.left_behind() == child.pid
    await record.stop_left_behind("the test child", grace=5)
    assert child.returncode is not None or await child.wait() is not None
    assert not record.path.exists()


async def test_a_live_starters_child_and_a_reused_pid_are_left_alone(child: asyncio.subprocess.Process,
                                                                    tmp_path: Path) -> None:
    starter = await asyncio.create_subprocess_exec(sys.executable, "-c", SLEEPER)
    try:
        record = ChildRecord(tmp_path / "child.pid", "/srv/test/child.conf")
        record.path.write_text(f"{child.pid} {starter.pid}\n")
        assert record.left_behind() is None, "another hotline up still runs it"
        other = ChildRecord(tmp_path / "other.pid", "/srv/test/another.conf")
        other.path.write_text(f"{child.pid} {await gone_pid()}\n")
        assert other.left_behind() is None, "the pid runs something that is not ours"
        await other.stop_left_behind("not ours", grace=5)
        assert child.returncode is None
    finally:
        starter.kill()
        await starter.wait()
