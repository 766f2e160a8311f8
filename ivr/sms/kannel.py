"""Kannel, the SMS gateway, as our child processes: its configuration rendered from the settings and the
secrets, bearerbox (the SMSC connections and the message store) and smsbox (the sendsms HTTP interface, and
incoming messages passed to our web endpoint), started and stopped with the hotline.

Messages waiting in bearerbox are kept in its file store, so a restart sends them once it is back. Incoming
messages are recoded to UTF-8 (`mo-recode`; Kannel joins the parts of a long one) and reach
`/api/sms/incoming` with the token only Kannel knows. Everything listens on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ivr.secrets import Secrets
from ivr.settings import Settings

logger = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"
INCOMING_PATH = "/api/sms/incoming"
# What smsbox passes for each incoming SMS (Kannel's escape codes): sender, receiver, the text in UTF-8, the
# coding, the time, the SMSC and Kannel's id of the message.
INCOMING_FIELDS = "from=%p&to=%P&text=%a&coding=%c&at=%t&smsc=%i&id=%I"
DLR_PATH = "/api/sms/dlr"
SENDSMS_USER = "hotline"
MAX_PARTS = 10  # the parts of one long SMS Kannel sends (sendsms-user max-messages)


class KannelError(RuntimeError):
    """Kannel is not installed, or a box did not start; says which, and where its log is."""


@dataclass(frozen=True)
class KannelLayout:
    folder: Path  # configuration, logs and the message store

    @property
    def config(self) -> Path:
        return self.folder / "kannel.conf"

    def log(self, box: str) -> Path:
        return self.folder / f"{box}.log"


def server_url(settings: Settings, path: str) -> str:
    """Our web server as Kannel reaches it (a server listening on every address is reached on loopback)."""
    host = settings.web.host
    if host in ("0.0.0.0", "::"):
        host = LOOPBACK
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.web.port}{path}"


def render(settings: Settings, secrets: Secrets, layout: KannelLayout) -> str:
    sms = settings.sms
    incoming = f"{server_url(settings, INCOMING_PATH)}?token={secrets.sms_token}&{INCOMING_FIELDS}"
    groups = [
        _group("core", {
            "admin-port": sms.admin_port, "admin-interface": LOOPBACK, "admin-password": secrets.kannel_admin_password,
            "smsbox-port": sms.box_port, "box-allow-ip": LOOPBACK, "log-file": layout.log("bearerbox"),
            "log-level": 1, "access-log": layout.log("access"), "store-type": "file",
            "store-location": layout.folder / "store", "dlr-storage": "internal"}),
        _smsc(settings, secrets),
        _group("smsbox", {
            "bearerbox-host": LOOPBACK, "bearerbox-port": sms.box_port, "sendsms-port": sms.sendsms_port,
            "sendsms-interface": LOOPBACK, "global-sender": sms.sender, "log-file": layout.log("smsbox"),
            "log-level": 1, "mo-recode": "true",
            # An incoming SMS (or delivery report) our server did not take (503 while the database is away, or
            # the server down) is tried again, every http-queue-delay seconds, http-request-retry times.
            "http-request-retry": sms.incoming_retries, "http-queue-delay": sms.incoming_retry_seconds}),
        _group("sendsms-user", {
            "username": SENDSMS_USER, "password": secrets.sms_password, "max-messages": MAX_PARTS,
            "concatenation": "true"}),
        # Nothing our endpoint answers is ever texted back to the citizen (max-messages 0, and an empty answer
        # omitted): the acknowledgements are our own messages, sent through sendsms.
        _group("sms-service", {
            "keyword": "default", "catch-all": "true", "max-messages": 0, "omit-empty": "true", "get-url": incoming}),
    ]
    return "# Rendered by hotline from its settings and secrets; keep private.\n\n" + "\n".join(groups)


def _smsc(settings: Settings, secrets: Secrets) -> str:
    sms = settings.sms
    if sms.smsc == "fake":
        return _group("smsc", {"smsc": "fake", "smsc-id": "fake", "port": sms.fake_port,
                               "connect-allow-ip": LOOPBACK})
    return _group("smsc", {"smsc": "smpp", "smsc-id": "carrier", "host": sms.smpp_host, "port": sms.smpp_port,
                           "system-type": "", "smsc-username": sms.smpp_system_id,
                           "smsc-password": secrets.smpp_password, "transceiver-mode": "true"})


def _group(name: str, values: dict[str, object]) -> str:
    lines = [f"group = {name}"]
    for key, value in values.items():
        text = str(value)
        if any(char in text for char in '"\n\r'):
            raise KannelError(f"{name}.{key} holds a quote or a line break, which kannel.conf cannot carry")
        lines.append(f'{key} = "{text}"' if isinstance(value, str | Path) else f"{key} = {text}")
    return "\n".join(lines) + "\n"


class KannelProcess:
    """bearerbox, then smsbox once bearerbox listens; stopped in the reverse order."""

    def __init__(self, settings: Settings, secrets: Secrets, layout: KannelLayout, start_timeout: float = 15) -> None:
        self.settings = settings
        self.secrets = secrets
        self.layout = layout
        self.start_timeout = start_timeout
        self.boxes: list[asyncio.subprocess.Process] = []

    async def start(self) -> None:
        programs = await asyncio.to_thread(self._prepare)
        try:
            await self._box(programs["bearerbox"], "bearerbox", self.settings.sms.box_port)
            await self._box(programs["smsbox"], "smsbox", self.settings.sms.sendsms_port)
        except BaseException:
            await self.stop()
            raise

    def _prepare(self) -> dict[str, str]:
        """The boxes' programs, and the configuration written (private: it holds the passwords)."""
        programs = {box: shutil.which(box) or shutil.which(box, path="/usr/sbin") for box in ("bearerbox", "smsbox")}
        missing = [box for box, program in programs.items() if program is None]
        if missing:
            raise KannelError(f"{' and '.join(missing)} not installed: apt-get install kannel")
        self.layout.folder.mkdir(parents=True, exist_ok=True)
        self.layout.config.write_text(render(self.settings, self.secrets, self.layout), encoding="utf-8")
        self.layout.config.chmod(0o600)
        return {box: str(program) for box, program in programs.items()}

    async def _box(self, program: str, box: str, port: int) -> None:
        with self.layout.log(f"{box}-console").open("ab") as console:
            process = await asyncio.create_subprocess_exec(
                program, "-v", "1", str(self.layout.config), stdin=subprocess.DEVNULL, stdout=console,
                stderr=console)
        self.boxes.append(process)
        try:
            async with asyncio.timeout(self.start_timeout):
                while not await _listening(port):
                    if process.returncode is not None:
                        raise KannelError(f"{box} exited ({process.returncode}): see {self.layout.log(box)}")
                    await asyncio.sleep(0.1)  # a port that opens has no event to wait on
        except TimeoutError:
            raise KannelError(f"{box} did not listen on port {port} within {self.start_timeout:g} s: see "
                              f"{self.layout.log(box)}") from None
        logger.info("kannel %s started (pid %s)", box, process.pid)

    async def stop(self) -> None:
        for process in reversed(self.boxes):
            if process.returncode is None:
                process.terminate()
                try:
                    async with asyncio.timeout(10):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()
        self.boxes.clear()


async def _listening(port: int) -> bool:
    with contextlib.suppress(OSError):
        _reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False
