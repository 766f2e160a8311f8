"""One FastAGI call: the environment Asterisk sends first, then one command at a time."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

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
HANGUP_LINE = b"HANGUP"


@dataclass(frozen=True)
class AgiReply:
    code: int
    result: str
    data: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

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
    extra = dict(item.split("=", 1) for item in match.group("extra").split())
    return AgiReply(int(match.group("code")), match.group("result"), match.group("data"), extra)


async def read_environment(reader: asyncio.StreamReader, max_bytes: int, timeout: float) -> dict[str, str]:
    """Read `agi_*: value` lines up to the blank line; EOF, junk, size or time over the cap raise."""
    environment: dict[str, str] = {}
    received = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                line = await reader.readline()
                received += len(line)
                if received > max_bytes:
                    raise AgiHeaderError(f"AGI environment larger than {max_bytes} bytes")
                if not line.endswith(b"\n"):
                    raise AgiHeaderError(f"connection closed after {received} bytes, before the end of the environment")
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                if not text:
                    break
                key, sep, value = text.partition(":")
                if not sep or not key.startswith("agi_"):
                    raise AgiHeaderError(f"malformed AGI environment line: {text[:100]!r}")
                environment[key.strip()] = value.strip()
    except TimeoutError:
        raise AgiHeaderError(f"AGI environment not complete after {timeout:g} s ({received} bytes)") from None
    except ConnectionError as exc:
        raise AgiHeaderError(f"connection lost after {received} bytes: {exc}") from None
    except ValueError as exc:  # a single line longer than the reader's limit
        raise AgiHeaderError(f"AGI environment line too long: {exc}") from None
    if not environment:
        raise AgiHeaderError("empty AGI environment")
    return environment


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


class AgiCall:
    """Commands on one channel. Only one command is in flight at a time; each has a timeout."""

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
        self._owed = 0  # replies to timed-out commands that Asterisk may still send

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
        async with self._lock:
            try:
                async with asyncio.timeout(timeout or self.command_timeout):
                    self.writer.write(line.encode() + b"\n")
                    await self.writer.drain()
                    while self._owed:
                        await self._read_reply("(late reply)")
                        self._owed -= 1
                    return await self._read_reply(line)
            except TimeoutError:
                self._owed += 1
                waited = timeout or self.command_timeout
                raise AgiCommandTimeout(f"no reply to {words[0]} within {waited:g} s") from None
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.hung_up = True
                raise AgiHangup(f"connection lost during {words[0]}: {exc}") from None

    async def _read_reply(self, line: str) -> AgiReply:
        while True:
            raw = await self.reader.readline()
            if not raw:
                self.hung_up = True
                raise AgiHangup(f"connection closed during {line.split()[0]}")
            if raw.strip() == HANGUP_LINE:
                self.hung_up = True  # out of band: the real reply still follows
                continue
            if not raw.endswith(b"\n"):
                self.hung_up = True
                raise AgiHangup(f"connection closed in the middle of the reply to {line.split()[0]}")
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if text.startswith("510 "):
                raise AgiInvalidCommand(f"Asterisk does not know {line!r}", text)
            if text.startswith("511 "):
                self.hung_up = True
                raise AgiDeadChannel(f"{line.split()[0]} refused on a dead channel", text)
            if text.startswith("520 "):
                raise AgiUsageError(f"wrong syntax for {line!r}", text)
            if text.startswith("520-"):
                raise AgiUsageError(f"wrong syntax for {line!r}", text + "\n" + await self._read_usage())
            reply = parse_reply(text)
            return self._check(reply, line, text)

    async def _read_usage(self) -> str:
        lines: list[str] = []
        while True:
            raw = await self.reader.readline()
            if not raw or raw.startswith(b"520 "):
                return "\n".join(lines)
            lines.append(raw.decode(errors="replace").rstrip())

    def _check(self, reply: AgiReply, line: str, text: str) -> AgiReply:
        if reply.code != 200:
            raise AgiError(f"unexpected reply to {line!r}", text)
        return reply

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, quote(value))

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

    async def verbose(self, message: str, level: int = 3) -> None:
        await self.command("VERBOSE", quote(message), str(level))

    async def close(self) -> None:
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass  # the peer went first: nothing left to tell it
