"""One FastAGI call: the environment Asterisk sends first, then one command at a time."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import NamedTuple

from ivr.fastagi.errors import (
    AgiCommandTimeout,
    AgiDeadChannel,
    AgiError,
    AgiHangup,
    AgiHeaderError,
    AgiInvalidCommand,
    AgiProtocolError,
    AgiUsageError,
)

REPLY = re.compile(r"^(?P<code>\d{3}) result=(?P<result>-?[^ ]*)(?: \((?P<data>.*?)\))?(?P<extra>(?: \w+=\S*)*)\s*$")


class AgiReply(NamedTuple):
    code: int
    result: str
    data: str | None = None
    extra: dict[str, str] = {}  # noqa: RUF012  (never mutated; a tuple field, not a shared class attribute)

    @property
    def result_int(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            return 0


def parse_reply(line: str) -> AgiReply:
    match = REPLY.match(line)
    if match is None:
        raise AgiProtocolError(f"not an AGI reply: {line[:200]!r}", line)
    code, result, data, extra = match.groups()
    if not extra:
        return AgiReply(int(code), result, data)
    return AgiReply(int(code), result, data, dict(item.split("=", 1) for item in extra.split()))


async def read_environment(reader: asyncio.StreamReader, max_bytes: int, timeout: float) -> dict[str, str]:
    """Read `agi_*: value` lines up to the blank line; EOF, junk, size or time over the cap raise.

    The reader's limit must be `max_bytes`: an environment that outgrows it is refused at once.
    """
    try:
        async with asyncio.timeout(timeout):
            data = await reader.readuntil(b"\n\n")
    except TimeoutError:
        raise AgiHeaderError(f"AGI environment not complete after {timeout:g} s") from None
    except asyncio.IncompleteReadError as exc:
        raise AgiHeaderError(
            f"connection closed after {len(exc.partial)} bytes, before the end of the environment"
        ) from None
    except asyncio.LimitOverrunError:
        raise AgiHeaderError(f"AGI environment larger than {max_bytes} bytes") from None
    except ConnectionError as exc:
        raise AgiHeaderError(f"connection lost during the environment: {exc}") from None
    if len(data) > max_bytes:
        raise AgiHeaderError(f"AGI environment larger than {max_bytes} bytes")
    return _parse_environment(data)


def _parse_environment(data: bytes) -> dict[str, str]:
    environment: dict[str, str] = {}
    for text in data.decode("utf-8", errors="replace").split("\n"):
        if not text:
            break
        key, sep, value = text.partition(":")
        if not sep or not key.startswith("agi_"):
            raise AgiHeaderError(f"malformed AGI environment line: {text[:100]!r}")
        environment[key.strip()] = value.strip()
    if not environment:
        raise AgiHeaderError("empty AGI environment")
    return environment


# What MSet takes as it is: no separator (, |), quote, backslash or blank to be escaped.
MSET_SAFE = re.compile(r"[\w.:/@+*#-]*")


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


class AgiCall:
    """Commands on one channel. Only one command is in flight at a time; each has a timeout.

    The timeouts share one timer per call (re-armed only when it fires early): a timer per command
    costs more than the command's own round trip on loopback.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        environment: dict[str, str],
        command_timeout: float,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.env = environment
        self.command_timeout = command_timeout
        self.hung_up = False
        self._lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        self._unanswered = 0  # commands sent whose reply has not been read (late ones are skipped)
        self._deadline: float | None = None
        self._waiter: asyncio.Task[object] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._expired = False

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "-")

    @property
    def script(self) -> str:
        return self.env.get("agi_network_script", "").split("?", 1)[0].strip("/")

    @property
    def caller_number(self) -> str:
        return self.env.get("agi_callerid", "unknown")

    @property
    def dialled_number(self) -> str:
        return self.env.get("agi_dnid") or self.env.get("agi_extension", "")

    async def command(self, *words: str, timeout: float | None = None) -> AgiReply:
        if self.hung_up:
            raise AgiHangup(f"channel hung up before {words[0]}")
        line = " ".join(words)
        waited = timeout or self.command_timeout
        async with self._lock:
            self._arm(waited)
            try:
                self.writer.write(line.encode() + b"\n")
                self._unanswered += 1
                await self.writer.drain()
                while self._unanswered > 1:
                    await self._skip_late_reply()
                return await self._read_reply(line)
            except asyncio.CancelledError:
                if not self._expired:
                    raise  # cancelled from outside, e.g. the handler's own time limit
                self._expired = False
                if self._waiter is not None:
                    self._waiter.uncancel()
                raise AgiCommandTimeout(f"no reply to {words[0]} within {waited:g} s") from None
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.hung_up = True
                raise AgiHangup(f"connection lost during {words[0]}: {exc}") from None
            except ValueError:  # a reply line longer than the reader's limit
                raise AgiProtocolError(f"reply to {words[0]} too long") from None
            finally:
                self._deadline = None

    def _arm(self, seconds: float) -> None:
        self._deadline = self._loop.time() + seconds
        self._waiter = asyncio.current_task()
        if self._watchdog is not None and self._watchdog.when() > self._deadline:
            self._watchdog.cancel()
            self._watchdog = None
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(self._deadline, self._check_deadline)

    def _check_deadline(self) -> None:
        self._watchdog = None
        if self._deadline is None or self._waiter is None:
            return  # no command in flight
        if self._loop.time() < self._deadline:
            self._watchdog = self._loop.call_at(self._deadline, self._check_deadline)
            return
        self._expired = True
        self._waiter.cancel()

    async def _skip_late_reply(self) -> None:
        """The reply to a command we gave up on: read and dropped, whatever it says."""
        try:
            await self._read_reply("(late reply)")
        except AgiHangup:
            raise
        except AgiError:
            pass

    async def _read_reply(self, line: str) -> AgiReply:
        raw = await self.reader.readline()
        while raw == b"HANGUP\n":
            self.hung_up = True  # out of band: the real reply still follows
            raw = await self.reader.readline()
        if not raw.endswith(b"\n"):  # EOF, possibly in the middle of a line
            self.hung_up = True
            raise AgiHangup(f"connection closed during {line.split()[0]}")
        self._unanswered -= 1
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if text.startswith("200 "):
            return parse_reply(text)
        raise await self._error_reply(line, text)

    async def _error_reply(self, line: str, text: str) -> AgiError:
        if text.startswith("510 "):
            return AgiInvalidCommand(f"Asterisk does not know {line!r}", text)
        if text.startswith("511 "):
            self.hung_up = True
            return AgiDeadChannel(f"{line.split()[0]} refused on a dead channel", text)
        if text.startswith("520 "):
            return AgiUsageError(f"wrong syntax for {line!r}", text)
        if text.startswith("520-"):
            return AgiUsageError(f"wrong syntax for {line!r}", text + "\n" + await self._read_usage())
        parse_reply(text)  # raises AgiProtocolError for a line that is not a reply at all
        return AgiError(f"unexpected reply to {line!r}", text)

    async def _read_usage(self) -> str:
        lines: list[str] = []
        while True:
            raw = await self.reader.readline()
            if not raw or raw.startswith(b"520 "):
                return "\n".join(lines)
            lines.append(raw.decode(errors="replace").rstrip())

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, quote(value))

    async def set_variables(self, values: Mapping[str, str]) -> None:
        """Several variables in one round trip (Asterisk's MSet): each SET VARIABLE costs a round trip and a
        wake-up of both sides. A value MSet would misread (separators, quotes, blanks) goes on its own."""
        plain = {name: value for name, value in values.items() if MSET_SAFE.fullmatch(value)}
        if plain:
            reply = await self.command("EXEC", "MSet", ",".join(f"{name}={value}" for name, value in plain.items()))
            if reply.result == "-2":
                raise AgiError("Asterisk has no MSet application", f"200 result={reply.result}")
        for name, value in values.items():
            if name not in plain:
                await self.set_variable(name, value)

    async def stream_file(self, path: str, escape_digits: str = "", timeout: float = 60.0) -> str:
        """Play a prompt; returns the digit pressed to interrupt it, or ''."""
        reply = await self.command("STREAM FILE", path, quote(escape_digits), timeout=timeout)
        if reply.result_int < 0:
            # A missing file also answers result=-1, but with endpos=0 and no HANGUP line before it.
            if not self.hung_up and reply.extra.get("endpos") == "0":
                raise AgiError(f"prompt {path} could not be played", f"200 result={reply.result} endpos=0")
            self.hung_up = True
            raise AgiHangup(f"channel hung up while playing {path}")
        return chr(reply.result_int) if reply.result_int > 0 else ""

    async def get_data(self, path: str, wait_ms: int, max_digits: int) -> str:
        """Play a prompt and collect up to `max_digits` keys (the prompt stops at the first); '' if none."""
        reply = await self.command("GET DATA", path, str(wait_ms), str(max_digits),
                                   timeout=wait_ms / 1000 + 60)
        if reply.result_int < 0:
            self.hung_up = True
            raise AgiHangup(f"channel hung up during {path}")
        return reply.result  # the keys pressed; empty after a timeout with none ("200 result= (timeout)")

    async def hangup(self) -> None:
        await self.command("HANGUP")

    async def verbose(self, message: str, level: int = 3) -> None:
        await self.command("VERBOSE", quote(message), str(level))

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass  # the peer went first: nothing left to tell it
