"""Kannel, the SMS gateway, as our child processes: its configuration rendered from the settings and the
secrets, bearerbox (the SMSC connections and the message store) and smsbox (the sendsms HTTP interface, and
incoming messages passed to our web endpoint), started and stopped with the hotline.

Messages waiting in bearerbox are kept in its file store, so a restart sends them once it is back; a box that
dies is started again (`KannelProcess.supervise`). Incoming messages are recoded to UTF-8 (`mo-recode`; Kannel
joins the parts of a long one) and are POSTed to `/api/sms/incoming`, the text as the body (in a URL, a text of
more than about 900 Chinese characters is longer than a request line may be), with the token only Kannel knows
and the other fields in the query; one our server did not take is tried again by smsbox, and nothing we answer
is texted back. Every port listens on loopback only, and each box takes connections from loopback only (an allow
list means nothing to Kannel without a deny list). The configuration, logs and message store are the service
user's alone: they hold passwords, citizens' numbers and, in smsbox's log, their texts. docs/sms.md has the whole
channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.orphans import ChildRecord
from ivr.secrets import Secrets
from ivr.settings import Settings

logger = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"
DENY_ALL = "*.*.*.*"  # Kannel's deny list for "every other address"; its allow list wins over it
# bearerbox's access log without the message text (Kannel's default has it as %b): which message went where,
# how long, for troubleshooting (Kannel writes the time first); the text is in the database.
ACCESS_LOG_FORMAT = "%l [SMSC:%i] [SVC:%n] [from:%p] [to:%P] [flags:%m:%c:%M:%C:%d] [msg:%L] [udh:%U] [id:%I]"
PRIVATE_FILES = 0o077  # the boxes' umask: what they write (logs, the store) is readable by the service user only
INCOMING_PATH = "/api/sms/incoming"
# What smsbox passes in the query with each incoming SMS (Kannel's escape codes): sender, receiver, the coding, the
# time, the SMSC and Kannel's id of the message. The text is the body (post-url), in UTF-8 (its charset says).
INCOMING_FIELDS = "from=%p&to=%P&coding=%c&at=%t&smsc=%i&id=%I"
DLR_PATH = "/api/sms/dlr"
SENDSMS_USER = "hotline"
MAX_PARTS = 10  # the parts of one long SMS Kannel sends (sendsms-user max-messages)
# Seconds a box has to stop before it is killed. Nothing is lost then: bearerbox writes each message to its store
# file as it takes it, and smsbox keeps nothing on disk. When it stops, bearerbox can wait for a box to hand delivery
# reports to that has gone; smsbox can hang in its HTTP retry queue's sleep.
STOP_GRACE = {"bearerbox": 5.0, "smsbox": 3.0}
BOXES = ("bearerbox", "smsbox")  # in the order they start
AFTER_CRASH_GRACE = {"bearerbox": 5.0, "smsbox": 0.5}  # an smsbox whose bearerbox died hangs as it stops


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

    def record(self, box: str) -> ChildRecord:
        """The box's pid and its starter's, so that a start after a crash stops a box the dead run left."""
        return ChildRecord(self.folder / f"{box}.pid", str(self.config))


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
            "admin-allow-ip": LOOPBACK, "admin-deny-ip": DENY_ALL,
            "smsbox-port": sms.box_port, "smsbox-interface": LOOPBACK, "box-allow-ip": LOOPBACK,
            "box-deny-ip": DENY_ALL, "log-file": layout.log("bearerbox"), "log-level": 1,
            "access-log": layout.log("access"), "access-log-format": ACCESS_LOG_FORMAT, "store-type": "file",
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
            "concatenation": "true", "user-allow-ip": LOOPBACK, "user-deny-ip": DENY_ALL}),
        # Nothing our endpoint answers is ever texted back to the citizen (max-messages 0, and an empty answer
        # omitted): the acknowledgements are our own messages, sent through sendsms.
        _group("sms-service", {
            "keyword": "default", "catch-all": "true", "max-messages": 0, "omit-empty": "true", "post-url": incoming}),
    ]
    return "# Rendered by hotline from its settings and secrets; keep private.\n\n" + "\n".join(groups)


def _smsc(settings: Settings, secrets: Secrets) -> str:
    sms = settings.sms
    if sms.smsc == "fake":
        return _group("smsc", {"smsc": "fake", "smsc-id": "fake", "port": sms.fake_port, "our-host": LOOPBACK,
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
    """bearerbox, then smsbox once bearerbox listens; stopped together. `supervise` starts them again
    when one dies (smsbox leaves when bearerbox does) or did not start, not after `stop`."""

    LONGEST_RESTART_WAIT = 300.0
    STEADY_RUN = 60.0  # a run this long resets the wait before the next restart

    def __init__(self, settings: Settings, secrets: Secrets, layout: KannelLayout, start_timeout: float = 15) -> None:
        self.settings = settings
        self.secrets = secrets
        self.layout = layout
        self.start_timeout = start_timeout
        self.boxes: dict[str, asyncio.subprocess.Process] = {}
        self.restarts = 0
        self.problem: str | None = None  # why the boxes are not running, while they are not
        self.started_listeners: list[Callable[[], None]] = []  # the boxes are up (again)
        self._wanted = asyncio.Event()  # start() was called, stop() was not
        self._starting = asyncio.Lock()

    @property
    def running(self) -> bool:
        return len(self.boxes) == 2 and all(process.returncode is None for process in self.boxes.values())

    async def start(self) -> None:
        """Both boxes up (nothing happens if they are); raises KannelError saying which did not start."""
        async with self._starting:
            self._wanted.set()
            if self.running:
                return
            await self._terminate()  # what is left of a run where one box died
            for box in reversed(BOXES):  # and what a hotline that died left running (smsbox first)
                await self.layout.record(box).stop_left_behind(f"kannel {box}", STOP_GRACE[box])
            try:
                programs = await asyncio.to_thread(self._prepare)
                await self._box(programs["bearerbox"], "bearerbox", self.settings.sms.box_port)
                await self._box(programs["smsbox"], "smsbox", self.settings.sms.sendsms_port)
            except KannelError as exc:
                self.problem = str(exc)
                await self._terminate()
                raise
            except BaseException:
                await self._terminate()
                raise
            self.problem = None
        for listener in self.started_listeners:
            listener()

    def _prepare(self) -> dict[str, str]:
        """The boxes' programs, and the configuration written (private: it holds the passwords)."""
        programs = {box: shutil.which(box) or shutil.which(box, path="/usr/sbin") for box in BOXES}
        missing = [box for box, program in programs.items() if program is None]
        if missing:
            raise KannelError(f"{' and '.join(missing)} not installed: apt-get install kannel")
        _make_private(self.layout.folder)
        self.layout.config.write_text(render(self.settings, self.secrets, self.layout), encoding="utf-8")
        self.layout.config.chmod(0o600)
        return {box: str(program) for box, program in programs.items()}

    async def _box(self, program: str, box: str, port: int) -> None:
        console_log = os.open(self.layout.log(f"{box}-console"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            process = await asyncio.create_subprocess_exec(
                program, "-v", "1", str(self.layout.config), stdin=subprocess.DEVNULL, stdout=console_log,
                stderr=console_log, umask=PRIVATE_FILES)
        finally:
            os.close(console_log)
        self.boxes[box] = process
        self.layout.record(box).write(process.pid)
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
        self._wanted.clear()
        await self._terminate()

    async def _terminate(self, grace: Mapping[str, float] = STOP_GRACE) -> None:
        """Both told to stop at once, then each given its grace before it is killed."""
        running = {box: process for box, process in self.boxes.items() if process.returncode is None}
        for process in running.values():
            process.terminate()
        for box, process in running.items():
            try:
                async with asyncio.timeout(grace[box]):
                    await process.wait()
            except TimeoutError:
                logger.warning("kannel %s did not stop within %g s: killed", box, grace[box])
                process.kill()
                await process.wait()
        for box in self.boxes:
            self.layout.record(box).remove()
        self.boxes.clear()

    async def supervise(self, restart_seconds: float) -> None:
        """Runs until cancelled: boxes that died, or did not start, are started again after `restart_seconds`;
        the wait doubles after each failed start or short run, up to LONGEST_RESTART_WAIT."""
        wait = restart_seconds
        loop = asyncio.get_running_loop()
        while True:
            await self._wanted.wait()
            if self._starting.locked():  # a start() in progress: see how it ends
                async with self._starting:
                    continue
            if not self.running:
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.LONGEST_RESTART_WAIT)
                if self._wanted.is_set() and not self.running:
                    try:
                        await self.start()
                    except KannelError as exc:
                        logger.error("kannel did not start: %s; trying again in %g s", exc, wait)
                    else:
                        self.restarts += 1
                        logger.info("kannel restarted (restart %d)", self.restarts)
                continue
            began = loop.time()
            exits = {asyncio.ensure_future(process.wait()): box for box, process in self.boxes.items()}
            try:
                done, _pending = await asyncio.wait(exits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in exits:
                    waiting.cancel()
            if not self._wanted.is_set():
                continue  # stop() stopped them
            self.problem = " and ".join(
                f"{exits[finished]} exited ({finished.result()}): see {self.layout.log(exits[finished])}"
                for finished in done)
            if loop.time() - began >= self.STEADY_RUN:
                wait = restart_seconds
            logger.error("kannel: %s; starting it again in %g s", self.problem, wait)
            await self._terminate(AFTER_CRASH_GRACE)


def _make_private(folder: Path) -> None:
    """The folder (made if missing) and what earlier runs left in it, the service user's alone."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for path in folder.iterdir():
        if path.is_file():
            path.chmod(0o600)


async def _listening(port: int) -> bool:
    with contextlib.suppress(OSError):
        _reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False
