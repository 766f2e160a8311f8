"""The FastAGI server over loopback, against a scripted fake Asterisk (no Asterisk needed).

The fake sends an AGI environment the way res_agi does, then reads each command line the server
writes and answers it with the exact text Asterisk would send. Every wait is bounded by STEP so that
a bug fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ivr.fastagi import (
    AgiCall,
    AgiCommandTimeout,
    AgiDeadChannel,
    AgiError,
    AgiHangup,
    AgiInvalidCommand,
    AgiUsageError,
    DuplicateRouteError,
    FastAgiServer,
    Router,
)
from ivr.fastagi.errors import AgiProtocolError
from ivr.fastagi.protocol import parse_reply, quote
from ivr.settings import FastAgiSettings

SERVER_LOG = "ivr.fastagi.server"
STEP = 2.0  # upper bound for any single wait: generous, only reached when something is broken
UID = "1700000000.42"
CALLER = "13800138000"

Context = dict[str, str]
Handler = Callable[[AgiCall, Context], Awaitable[None]]


def free_port() -> int:
    """FastAgiSettings refuses port 0, so ask the kernel for a free one first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(script: str, uniqueid: str = UID, callerid: str = CALLER) -> bytes:
    lines = [
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1/{script}",
        "agi_channel: PJSIP/carrier-00000001",
        "agi_language: zh",
        "agi_type: PJSIP",
        f"agi_uniqueid: {uniqueid}",
        f"agi_callerid: {callerid}",
        "agi_calleridname: unknown",
        "agi_dnid: 12345",
        "agi_context: citizens",
        "agi_extension: 12345",
        "agi_priority: 2",
        "agi_enhanced: 0.0",
    ]
    return ("\n".join(lines) + "\n\n").encode()


class FakeAsterisk:
    """The Asterisk side of one FastAGI connection, driven line by line by the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def start(self, script: str, uniqueid: str = UID) -> None:
        await self.send_raw(environment(script, uniqueid))

    async def send(self, *lines: str) -> None:
        await self.send_raw("".join(line + "\n" for line in lines).encode())

    async def read_command(self) -> str:
        async with asyncio.timeout(STEP):
            raw = await self.reader.readline()
        assert raw.endswith(b"\n"), f"expected a command line, the server sent {raw!r} and closed"
        return raw.decode().removesuffix("\n")

    async def answer(self, *reply: str) -> str:
        """Read one command, send the reply lines, return the command."""
        command = await self.read_command()
        await self.send(*reply)
        return command

    async def next_command_or_none(self) -> str | None:
        try:
            async with asyncio.timeout(STEP):
                raw = await self.reader.readline()
        except ConnectionResetError:
            return None
        return raw.decode().removesuffix("\n") if raw.endswith(b"\n") else None

    async def read_until_closed(self) -> bytes:
        """Everything the server still sends before it closes the connection."""
        received = b""
        async with asyncio.timeout(STEP):
            while True:
                try:
                    chunk = await self.reader.read(65536)
                except ConnectionResetError:
                    return received
                if not chunk:
                    return received
                received += chunk

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    def reset(self) -> None:
        """Close with RST instead of FIN, like a crashed or killed peer."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


class RecordingServer(FastAgiServer[Context]):
    """The real server; it only remembers each session task so that a test can await its end."""

    def __init__(self, settings: FastAgiSettings, router: Router[Context]) -> None:
        super().__init__(settings, router, lambda call: {"uniqueid": call.uniqueid})
        self.session_tasks: list[asyncio.Task[Any]] = []
        self.accepted = asyncio.Event()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.session_tasks.append(task)
        self.accepted.set()
        await super()._accept(reader, writer)


class Harness:
    def __init__(self) -> None:
        self.router: Router[Context] = Router()
        self.servers: list[RecordingServer] = []
        self.clients: list[FakeAsterisk] = []
        self.loop_errors: list[dict[str, Any]] = []

    async def start(self, **overrides: Any) -> RecordingServer:
        server = RecordingServer(FastAgiSettings(port=free_port(), **overrides), self.router)
        await server.start()
        self.servers.append(server)
        return server

    async def connect(self, server: RecordingServer) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection(server.settings.host, server.settings.port)
        client = FakeAsterisk(reader, writer)
        self.clients.append(client)
        return client

    async def run_flow(self, body: Callable[[AgiCall], Awaitable[Any]],
                       **overrides: Any) -> tuple[RecordingServer, FakeAsterisk, asyncio.Future[Any]]:
        """A server whose script "flow" runs `body`, a fake Asterisk that has started it, and its outcome."""
        outcome = new_future()
        self.router.add("flow", capturing(outcome, body))
        server = await self.start(**overrides)
        fake = await self.connect(server)
        await fake.start("flow")
        return server, fake, outcome

    async def sessions_done(self, server: RecordingServer) -> None:
        """Every session the server accepted has ended, and none of them let an exception escape."""
        tasks = list(server.session_tasks)
        assert tasks, "the server never accepted a connection"
        _, pending = await asyncio.wait(tasks, timeout=STEP)
        assert not pending, "a FastAGI session is still running"
        for task in tasks:
            assert not task.cancelled()
            assert task.exception() is None, f"exception escaped the session: {task.exception()!r}"
        assert self.loop_errors == [], f"the event loop reported: {self.loop_errors}"


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    running = Harness()
    loop.set_exception_handler(lambda _loop, context: running.loop_errors.append(context))
    try:
        yield running
    finally:
        for client in running.clients:
            await client.close()
        for server in running.servers:
            if server.session_tasks:
                await asyncio.wait(server.session_tasks, timeout=STEP)
            await server.stop()
        loop.set_exception_handler(previous)


@pytest.fixture(autouse=True)
def server_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=SERVER_LOG)
    return caplog


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SERVER_LOG and r.levelno == level]


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in records(caplog, level)]


def capturing(outcome: asyncio.Future[Any], body: Callable[[AgiCall], Awaitable[Any]]) -> Handler:
    """A handler that runs `body` and reports its value or exception to the test (then re-raises)."""

    async def handler(call: AgiCall, ctx: Context) -> None:
        try:
            value = await body(call)
        except BaseException as exc:
            outcome.set_result(exc)
            raise
        outcome.set_result(value)

    return handler


async def settle(outcome: asyncio.Future[Any]) -> Any:
    async with asyncio.timeout(STEP):
        return await outcome


def new_future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


# --- a normal session ------------------------------------------------------------------------


async def test_normal_session_sends_exact_command_lines_and_parses_the_replies(
    harness: Harness, server_logs: pytest.LogCaptureFixture
) -> None:
    outcome = new_future()
    seen: dict[str, Any] = {}

    async def flow(call: AgiCall, ctx: Context) -> None:
        seen["ctx"] = ctx
        seen["script"] = call.script
        seen["caller"] = call.caller_number
        seen["dialled"] = call.dialled_number
        seen["number"] = await call.get_variable("CALLERID(num)")
        seen["missing"] = await call.get_variable("HOTLINE_NOT_SET")
        await call.set_variable("HOTLINE_NOTE", 'said "hi" \\o/')
        seen["digit"] = await call.stream_file("/var/lib/hotline/sounds/greeting", "12")
        seen["no_digit"] = await call.stream_file("/var/lib/hotline/sounds/thanks")
        outcome.set_result(None)

    harness.router.add("test-flow", flow)
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.start("test-flow?lang=zh")

    assert await fake.answer("200 result=1 (13800138000)") == "GET VARIABLE CALLERID(num)"
    assert await fake.answer("200 result=0") == "GET VARIABLE HOTLINE_NOT_SET"
    assert await fake.answer("200 result=1") == 'SET VARIABLE HOTLINE_NOTE "said \\"hi\\" \\\\o/"'
    assert await fake.answer("200 result=49 endpos=12000") == 'STREAM FILE /var/lib/hotline/sounds/greeting "12"'
    assert await fake.answer("200 result=0 endpos=48000") == 'STREAM FILE /var/lib/hotline/sounds/thanks ""'
    await settle(outcome)
    assert await fake.read_until_closed() == b"", "nothing may follow a handler that finished normally"
    await harness.sessions_done(server)

    assert seen == {
        "ctx": {"uniqueid": UID},
        "script": "test-flow",
        "caller": CALLER,
        "dialled": "12345",
        "number": "13800138000",
        "missing": None,
        "digit": "1",
        "no_digit": "",
    }
    assert server.sessions_served == 1
    assert records(server_logs, logging.WARNING) == records(server_logs, logging.ERROR) == []


# --- a broken AGI environment ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"agi_network: yes\nagi_network_script hotline-intake\n\n", "malformed AGI environment line"),
        (b"agi_network: yes\nnetwork_script: hotline-intake\n\n", "malformed AGI environment line"),
        (b"\n\n", "empty AGI environment"),
    ],
    ids=["no-colon", "not-agi-prefixed", "empty"],
)
async def test_malformed_environment_is_refused_with_a_warning(
    harness: Harness, server_logs: pytest.LogCaptureFixture, header: bytes, reason: str
) -> None:
    called = asyncio.Event()

    async def flow(call: AgiCall, ctx: Context) -> None:
        called.set()

    harness.router.add("hotline-intake", flow)
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.send_raw(header)

    assert await fake.read_until_closed() == b"", "a refused session must not send any command"
    await harness.sessions_done(server)
    assert not called.is_set()
    warnings = messages(server_logs, logging.WARNING)
    assert len(warnings) == 1
    assert "FastAGI session refused" in warnings[0]
    assert reason in warnings[0]


async def test_oversized_environment_is_refused(harness: Harness, server_logs: pytest.LogCaptureFixture) -> None:
    server = await harness.start(max_header_bytes=200)
    fake = await harness.connect(server)
    lines = b"".join(b"agi_arg_%d: %s\n" % (n, b"x" * 40) for n in range(1, 8))  # > 200 bytes, no end
    await fake.send_raw(lines)

    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)
    assert any("larger than 200 bytes" in m for m in messages(server_logs, logging.WARNING))


async def test_environment_line_longer_than_the_stream_limit_is_refused(
    harness: Harness, server_logs: pytest.LogCaptureFixture
) -> None:
    server = await harness.start()
    fake = await harness.connect(server)
    with contextlib.suppress(ConnectionError):  # the server may refuse before it has read it all
        await fake.send_raw(b"agi_network_script: " + b"x" * 70_000 + b"\n\n")

    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)
    warnings = messages(server_logs, logging.WARNING)
    assert any("larger than" in m or "too long" in m for m in warnings), warnings


async def test_environment_that_never_finishes_is_dropped_after_header_timeout(
    harness: Harness, server_logs: pytest.LogCaptureFixture
) -> None:
    server = await harness.start(header_timeout=0.2)
    fake = await harness.connect(server)
    await fake.send_raw(b"agi_network: yes\nagi_network_script: hotline-intake\n")  # and then nothing

    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await fake.read_until_closed() == b""
    assert loop.time() - began < STEP - 0.5  # closed by header_timeout, not by the test's own bound
    await harness.sessions_done(server)
    assert any("not complete after 0.2 s" in m for m in messages(server_logs, logging.WARNING))


@pytest.mark.timeout(15)
async def test_partial_environment_then_close_keeps_the_loop_responsive(
    harness: Harness, server_logs: pytest.LogCaptureFixture
) -> None:
    outcome = new_future()
    harness.router.add("probe", capturing(outcome, lambda call: call.get_variable("PROBE")))
    server = await harness.start()
    ticks = 0
    ticked = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1
            ticked.set()

    ticking = asyncio.create_task(ticker())
    try:
        half = await harness.connect(server)
        await half.send_raw(b"agi_network: yes\nagi_network_script: pro")
        half.writer.write_eof()  # the half-sent header that froze panoramisk's server
        assert await half.read_until_closed() == b""
        await harness.sessions_done(server)
        assert any("connection closed after" in m for m in messages(server_logs, logging.WARNING))

        before = ticks
        ticked.clear()
        async with asyncio.timeout(STEP):
            await ticked.wait()
        assert ticks > before

        fake = await harness.connect(server)
        await fake.start("probe", uniqueid="1700000000.43")
        assert await fake.answer("200 result=1 (alive)") == "GET VARIABLE PROBE"
        assert await settle(outcome) == "alive"
        assert await fake.read_until_closed() == b""
        await harness.sessions_done(server)
        assert server.sessions_served == 2
    finally:
        ticking.cancel()


async def test_reset_during_environment_is_logged_not_escaped(
    harness: Harness, server_logs: pytest.LogCaptureFixture
) -> None:
    """A peer that resets (RST) mid-header must end like any other broken header: one warning."""
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.send_raw(b"agi_network: yes\nagi_network_scr")
    async with asyncio.timeout(STEP):
        await server.accepted.wait()
    fake.reset()

    await harness.sessions_done(server)
    assert any("FastAGI session refused" in m for m in messages(server_logs, logging.WARNING))


# --- hang-up -----------------------------------------------------------------------------------


async def test_hangup_line_before_the_reply_ends_the_handler_at_the_next_command(
    harness: Harness, server_logs: pytest.LogCaptureFixture
) -> None:
    outcome = new_future()
    first: dict[str, Any] = {}

    async def body(call: AgiCall) -> None:
        first["value"] = await call.get_variable("HOTLINE_STEP")
        first["hung_up"] = call.hung_up
        await call.set_variable("HOTLINE_STEP", "2")

    harness.router.add("flow", capturing(outcome, body))
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.start("flow")

    assert await fake.answer("HANGUP", "200 result=-1") == "GET VARIABLE HOTLINE_STEP"
    result = await settle(outcome)

    assert isinstance(result, AgiHangup)
    assert first == {"value": None, "hung_up": True}
    assert await fake.read_until_closed() == b"", "no command (and no HOTLINE_AGI_ERROR) after a hang-up"
    await harness.sessions_done(server)
    assert any(m.startswith(f"[{UID}] flow: caller hung up") for m in messages(server_logs, logging.INFO))
    assert records(server_logs, logging.ERROR) == []


async def test_stream_file_after_hangup_line_is_a_hangup_not_a_missing_prompt(harness: Harness) -> None:
    server, fake, outcome = await harness.run_flow(lambda call: call.stream_file("/sounds/greeting"))

    assert await fake.answer("HANGUP", "200 result=-1 endpos=0") == 'STREAM FILE /sounds/greeting ""'
    result = await settle(outcome)

    assert type(result) is AgiHangup
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)


async def test_stream_file_result_minus_one_mid_prompt_is_a_hangup(harness: Harness) -> None:
    server, fake, outcome = await harness.run_flow(lambda call: call.stream_file("/sounds/greeting"))

    await fake.answer("200 result=-1 endpos=16000")
    assert type(await settle(outcome)) is AgiHangup
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)


async def test_missing_prompt_is_an_error_not_a_hangup(
    harness: Harness, server_logs: pytest.LogCaptureFixture
) -> None:
    outcome = new_future()
    state: dict[str, bool] = {}

    async def body(call: AgiCall) -> str:
        try:
            return await call.stream_file("/sounds/no-such-prompt")
        finally:
            state["hung_up"] = call.hung_up

    harness.router.add("flow", capturing(outcome, body))
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.start("flow")

    await fake.answer("200 result=-1 endpos=0")
    result = await settle(outcome)

    assert type(result) is AgiError
    assert "could not be played" in str(result)
    assert state == {"hung_up": False}
    assert await fake.answer("200 result=1") == "SET VARIABLE HOTLINE_AGI_ERROR AgiError"
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)
    errors = messages(server_logs, logging.ERROR)
    assert len(errors) == 1 and errors[0].startswith(f"[{UID}] flow failed:")


async def test_connection_closed_while_waiting_for_a_reply_is_a_hangup(harness: Harness) -> None:
    server, fake, outcome = await harness.run_flow(lambda call: call.get_variable("HOTLINE_STEP"))

    assert await fake.read_command() == "GET VARIABLE HOTLINE_STEP"
    fake.writer.write_eof()  # Asterisk went away without answering
    result = await settle(outcome)

    assert type(result) is AgiHangup
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)


async def test_connection_closed_in_the_middle_of_a_reply_line_is_a_hangup(harness: Harness) -> None:
    """A reply cut short by EOF is a lost connection, not a protocol violation by Asterisk."""
    server, fake, outcome = await harness.run_flow(lambda call: call.get_variable("HOTLINE_STEP"))

    assert await fake.read_command() == "GET VARIABLE HOTLINE_STEP"
    await fake.send_raw(b"200 resu")
    fake.writer.write_eof()
    result = await settle(outcome)

    assert type(result) is AgiHangup, f"got {result!r}"
    await fake.read_until_closed()
    await harness.sessions_done(server)


# --- error replies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected", "error_name"),
    [
        ("510 Invalid or unknown command", AgiInvalidCommand, "AgiInvalidCommand"),
        ("511 Command Not Permitted on a dead channel", AgiDeadChannel, None),
        ("520 Invalid command syntax.  Proper usage not available.", AgiUsageError, "AgiUsageError"),
    ],
    ids=["510", "511", "520-single-line"],
)
async def test_error_replies_exactly_as_asterisk_sends_them(
    harness: Harness, reply: str, expected: type[AgiError], error_name: str | None
) -> None:
    """The texts are res_agi.c's own: 510/511/520 replies carry no `result=`."""
    outcome = new_future()
    state: dict[str, bool] = {}

    async def body(call: AgiCall) -> None:
        try:
            await call.command("FROBNICATE", "now")
        finally:
            state["hung_up"] = call.hung_up

    harness.router.add("flow", capturing(outcome, body))
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.start("flow")

    assert await fake.answer(reply) == "FROBNICATE now"
    result = await settle(outcome)

    assert type(result) is expected, f"{reply!r} gave {result!r}"
    assert reply in result.reply
    assert state["hung_up"] is (expected is AgiDeadChannel)
    if error_name is not None:
        assert await fake.answer("200 result=1") == f"SET VARIABLE HOTLINE_AGI_ERROR {error_name}"
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)


async def test_multi_line_usage_reply_raises_usage_error_with_the_usage_text(harness: Harness) -> None:
    outcome = new_future()
    after: dict[str, Any] = {}

    async def body(call: AgiCall) -> None:
        try:
            await call.command("SET VARIABLE", "ONLY_A_NAME")
        except AgiUsageError as exc:
            after["error"] = exc
        after["next"] = await call.get_variable("AFTER")  # the stream is still in step

    harness.router.add("flow", capturing(outcome, body))
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.start("flow")

    assert await fake.answer(
        "520-Invalid command syntax.  Proper usage follows:",
        " Usage: SET VARIABLE <variablename> <value>",
        "\tSets a variable to the current channel.",
        "520 End of proper usage.",
    ) == "SET VARIABLE ONLY_A_NAME"
    assert await fake.answer("200 result=1 (in step)") == "GET VARIABLE AFTER"
    assert await settle(outcome) is None

    error = after["error"]
    assert "Usage: SET VARIABLE <variablename> <value>" in error.reply
    assert "Sets a variable to the current channel." in error.reply
    assert "End of proper usage" not in error.reply
    assert after["next"] == "in step"
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)


async def test_garbage_reply_is_a_protocol_error(harness: Harness) -> None:
    server, fake, outcome = await harness.run_flow(lambda call: call.get_variable("X"))

    await fake.answer("this is not AGI")
    result = await settle(outcome)

    assert type(result) is AgiProtocolError
    assert result.reply == "this is not AGI"
    assert await fake.answer("200 result=1") == "SET VARIABLE HOTLINE_AGI_ERROR AgiProtocolError"
    await harness.sessions_done(server)


# --- timeouts ----------------------------------------------------------------------------------


async def test_unanswered_command_times_out(harness: Harness, server_logs: pytest.LogCaptureFixture) -> None:
    server, fake, outcome = await harness.run_flow(lambda call: call.get_variable("SLOW"), command_timeout=0.2)

    assert await fake.read_command() == "GET VARIABLE SLOW"  # and never answer it
    result = await settle(outcome)

    assert type(result) is AgiCommandTimeout
    assert "within 0.2 s" in str(result)
    assert await fake.answer("200 result=1") == "SET VARIABLE HOTLINE_AGI_ERROR AgiCommandTimeout"
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)
    assert any(m.startswith(f"[{UID}] flow failed") for m in messages(server_logs, logging.ERROR))


async def test_per_command_timeout_overrides_the_default(harness: Harness) -> None:
    server, fake, outcome = await harness.run_flow(lambda call: call.command("NOOP", timeout=0.1), command_timeout=30.0)

    assert await fake.read_command() == "NOOP"
    result = await settle(outcome)
    assert type(result) is AgiCommandTimeout
    assert "within 0.1 s" in str(result)
    await fake.answer("200 result=0")  # the late reply to NOOP, taken by the server's SET VARIABLE
    await fake.read_until_closed()
    await harness.sessions_done(server)


async def test_late_reply_after_a_command_timeout_is_not_taken_as_the_next_answer(harness: Harness) -> None:
    """After a timeout the reply still owed by Asterisk must not be handed to the next command."""
    timed_out = new_future()
    outcome = new_future()

    async def flow(call: AgiCall, ctx: Context) -> None:
        try:
            await call.get_variable("SLOW")
        except AgiCommandTimeout as exc:
            timed_out.set_result(exc)
        try:
            outcome.set_result(await call.get_variable("NEXT"))
        except AgiError as exc:
            outcome.set_result(exc)

    harness.router.add("flow", flow)
    server = await harness.start(command_timeout=0.2)
    fake = await harness.connect(server)
    await fake.start("flow")

    assert await fake.read_command() == "GET VARIABLE SLOW"
    await settle(timed_out)
    await fake.send("200 result=1 (stale)")  # Asterisk answers SLOW after all
    while (line := await fake.next_command_or_none()) is not None:
        await fake.send("200 result=1 (fresh)" if line == "GET VARIABLE NEXT" else "200 result=1")
    result = await settle(outcome)

    assert result != "stale", "the late reply to GET VARIABLE SLOW was returned for GET VARIABLE NEXT"
    assert result == "fresh"
    await harness.sessions_done(server)


async def test_a_late_error_reply_is_dropped_without_breaking_the_next_command(harness: Harness) -> None:
    outcome = new_future()

    async def flow(call: AgiCall, ctx: Context) -> None:
        with contextlib.suppress(AgiCommandTimeout):
            await call.command("SOME NEW COMMAND")
        outcome.set_result(await call.get_variable("NEXT"))

    harness.router.add("flow", flow)
    server = await harness.start(command_timeout=0.2)
    fake = await harness.connect(server)
    await fake.start("flow")

    assert await fake.read_command() == "SOME NEW COMMAND"
    assert await fake.read_command() == "GET VARIABLE NEXT"
    await fake.send("510 Invalid or unknown command")  # the late answer to SOME NEW COMMAND
    await fake.send("200 result=1 (fresh)")
    assert await settle(outcome) == "fresh"
    await harness.sessions_done(server)


async def test_a_command_cancelled_from_outside_leaves_its_reply_to_be_skipped(harness: Harness) -> None:
    """The handler's own time limit cancels a command; the next command must not take its reply."""
    outcome = new_future()

    async def flow(call: AgiCall, ctx: Context) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.1):
                await call.get_variable("STUCK")
        outcome.set_result(await call.get_variable("NEXT"))

    harness.router.add("flow", flow)
    server = await harness.start(command_timeout=5)
    fake = await harness.connect(server)
    await fake.start("flow")

    assert await fake.read_command() == "GET VARIABLE STUCK"
    assert await fake.read_command() == "GET VARIABLE NEXT"
    await fake.send("200 result=1 (stuck)")
    await fake.send("200 result=1 (next)")
    assert await settle(outcome) == "next"
    await harness.sessions_done(server)


# --- what the server tells the dialplan --------------------------------------------------------


async def test_unknown_script_sets_the_error_variable_and_closes(
    harness: Harness, server_logs: pytest.LogCaptureFixture
) -> None:
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.start("no-such-script", uniqueid="1700000000.7")

    assert await fake.answer("200 result=1") == "SET VARIABLE HOTLINE_AGI_ERROR unknown-script"
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)
    errors = messages(server_logs, logging.ERROR)
    assert len(errors) == 1
    assert errors[0].startswith("[1700000000.7] unknown AGI script 'no-such-script'")


async def test_handler_crash_sets_handler_crashed(harness: Harness, server_logs: pytest.LogCaptureFixture) -> None:
    async def flow(call: AgiCall, ctx: Context) -> None:
        raise RuntimeError("boom")

    harness.router.add("flow", flow)
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.start("flow", uniqueid="1700000000.8")

    assert await fake.answer("200 result=1") == "SET VARIABLE HOTLINE_AGI_ERROR handler-crashed"
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)
    [record] = records(server_logs, logging.ERROR)
    assert record.getMessage().startswith("[1700000000.8] flow crashed")
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


async def test_handler_running_past_handler_timeout_sets_handler_timeout(
    harness: Harness, server_logs: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def flow(call: AgiCall, ctx: Context) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # stuck: nothing ever sets it
        except asyncio.CancelledError:
            cancelled.set()
            raise

    harness.router.add("flow", flow)
    server = await harness.start(handler_timeout=0.2)
    fake = await harness.connect(server)
    await fake.start("flow", uniqueid="1700000000.9")

    assert await fake.answer("200 result=1") == "SET VARIABLE HOTLINE_AGI_ERROR handler-timeout"
    assert started.is_set() and cancelled.is_set()
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)
    [message] = messages(server_logs, logging.ERROR)
    assert message.startswith("[1700000000.9] flow ran past 0.2 s")


# --- one command in flight per call ------------------------------------------------------------


async def test_concurrent_commands_on_one_call_are_serialised(harness: Harness) -> None:
    outcome = new_future()

    async def body(call: AgiCall) -> list[str | None]:
        return list(await asyncio.gather(call.get_variable("FIRST"), call.get_variable("SECOND")))

    harness.router.add("flow", capturing(outcome, body))
    server = await harness.start()
    fake = await harness.connect(server)
    await fake.start("flow")

    assert await fake.read_command() == "GET VARIABLE FIRST"
    second = asyncio.create_task(fake.read_command())
    await asyncio.sleep(0.05)  # only to show that nothing arrives while FIRST is unanswered
    assert not second.done(), "SECOND was sent before FIRST was answered"
    await fake.send("200 result=1 (one)")
    assert await second == "GET VARIABLE SECOND"
    await fake.send("200 result=1 (two)")

    assert await settle(outcome) == ["one", "two"]
    assert await fake.read_until_closed() == b""
    await harness.sessions_done(server)


# --- the router ----------------------------------------------------------------------------------


async def _noop(call: AgiCall, ctx: Context) -> None:
    return None


def test_router_refuses_a_second_handler_for_a_script() -> None:
    router: Router[Context] = Router()
    router.add("hotline-intake", _noop)
    with pytest.raises(DuplicateRouteError, match="hotline-intake"):
        router.add("hotline-intake", _noop)
    assert router.resolve("hotline-intake") is _noop


def test_router_resolves_unknown_scripts_to_none() -> None:
    router: Router[Context] = Router()
    router.add("b-flow", _noop)
    router.add("a-flow", _noop)
    assert router.resolve("no-such-script") is None
    assert router.resolve("") is None
    assert router.scripts == ["a-flow", "b-flow"]


# --- reply parsing and quoting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "extra"),
    [
        ("200 result=1", 200, "1", None, {}),
        ("200 result=0", 200, "0", None, {}),
        ("200 result=-1", 200, "-1", None, {}),
        ("200 result=1 (hello world)", 200, "1", "hello world", {}),
        ("200 result=1 (f(x) = (a) + b)", 200, "1", "f(x) = (a) + b", {}),
        ("200 result=1 ()", 200, "1", "", {}),
        ("200 result=49 endpos=12000", 200, "49", None, {"endpos": "12000"}),
        ("200 result=-1 endpos=0", 200, "-1", None, {"endpos": "0"}),
        ("200 result=1 (timeout) endpos=8000", 200, "1", "timeout", {"endpos": "8000"}),
        ("200 result=1 (speech) endpos=0 results=1", 200, "1", "speech", {"endpos": "0", "results": "1"}),
        ("200 result=1 (value)\r", 200, "1", "value", {}),
    ],
)
def test_parse_reply(line: str, code: int, result: str, data: str | None, extra: dict[str, str]) -> None:
    reply = parse_reply(line)
    assert (reply.code, reply.result, reply.data, reply.extra) == (code, result, data, extra)


def test_result_int_reads_numbers_and_falls_back_to_zero() -> None:
    assert parse_reply("200 result=49 endpos=1").result_int == 49
    assert parse_reply("200 result=-1").result_int == -1
    assert parse_reply("200 result=").result_int == 0


@pytest.mark.parametrize("line", ["", "hello", "HANGUP", "200", "200result=1", "20 result=1", "200 result=1 (open"])
def test_parse_reply_refuses_garbage(line: str) -> None:
    with pytest.raises(AgiProtocolError) as caught:
        parse_reply(line)
    assert caught.value.reply == line


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("", '""'),
        ("plain", '"plain"'),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\path", '"C:\\\\path"'),
        ('\\"', '"\\\\\\""'),
        ("line one\nline two", '"line one line two"'),
    ],
)
def test_quote_escapes_quotes_and_backslashes(value: str, quoted: str) -> None:
    assert quote(value) == quoted
    assert "\n" not in quote(value)


async def test_set_variables_is_one_mset_and_values_it_would_misread_go_alone(harness: Harness) -> None:
    server, fake, outcome = await harness.run_flow(lambda call: call.set_variables(
        {"HOTLINE_QUEUE": "hotline-general", "QUEUE_PRIO": "0", "HOTLINE_NOTE": "a,b"}))

    assert await fake.answer("200 result=0") == "EXEC MSet HOTLINE_QUEUE=hotline-general,QUEUE_PRIO=0"
    assert await fake.answer("200 result=1") == 'SET VARIABLE HOTLINE_NOTE "a,b"'
    assert await settle(outcome) is None
    await harness.sessions_done(server)
