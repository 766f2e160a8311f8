"""Groundwork for issue 6: the real Kannel gateway (bearerbox + smsbox, Debian's `kannel`) with its fake SMSC and
`fakesmsc` (from `kannel-extras`) as the citizen's phone. A long Chinese SMS sent through sendsms reaches the
phone as UCS-2 parts that join back into the text; a citizen's Chinese SMS, even one too long for a URL, reaches
our incoming endpoint whole in UTF-8 with the token; a message accepted while the phone network is away waits in
the store and is delivered once. Kannel listens on loopback only and closes a box or a client from another
address; its logs and store are the service user's alone, and its access log has no message text."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.sms.kannel import INCOMING_PATH, LOOPBACK, KannelLayout, KannelProcess
from routing.sms_text import split
from tests.helpers import wait

FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SECRETS = Secrets("", {}, "", kannel_admin_password="admin-pw", sms_password="send-pw", sms_token="kannel-token")
NOTICE = ("您好，您反映的人民路路灯不亮问题已由城管局办结。请回复两位数字：第一位1已解决、2未解决；"
          "第二位1至5，1非常满意，5非常不满意。如需帮助请拨打12345，谢谢！")
_GOT = re.compile(r"Got message \d+: <([^>]*)>")
OTHER_ADDRESS = "127.0.0.5"  # another address of this machine: a box or a client from elsewhere


@pytest.fixture(scope="module")
def kannel_installed() -> None:
    """Debian's Kannel and its test tools: installed when missing, never skipped."""
    if shutil.which("bearerbox", path="/usr/sbin:/usr/bin") is None or not Path(FAKESMSC).exists():
        subprocess.run(["apt-get", "install", "-y", "-q", "kannel", "kannel-extras"], check=True)


@pytest.fixture
def sms_settings(base_settings: Settings, tmp_path: Path) -> Settings:
    sms = dataclasses.replace(base_settings.sms, admin_port=15200, box_port=15201, sendsms_port=15213,
                              fake_port=15210)
    web_settings = dataclasses.replace(base_settings.web, port=18181)
    return dataclasses.replace(base_settings, data_dir=tmp_path, sms=sms, web=web_settings)


@pytest.fixture
async def kannel(kannel_installed: None, sms_settings: Settings, tmp_path: Path) -> AsyncIterator[KannelProcess]:
    process = KannelProcess(sms_settings, SECRETS, KannelLayout(tmp_path / "kannel"))
    usual = os.umask(0o022)  # files anybody may read, unless Kannel's own start makes them private
    try:
        await process.start()
    finally:
        os.umask(usual)
    yield process
    await process.stop()


class Phone:
    """fakesmsc connected to the fake SMSC: sends the messages it is given, prints what it receives."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def received(self, count: int) -> list[tuple[bytes, bytes]]:
        """The next `count` messages to the phone, as (UDH, data) bytes."""
        assert self.process.stdout is not None
        found: list[tuple[bytes, bytes]] = []
        while len(found) < count:
            line = (await self.process.stdout.readline()).decode("latin-1")
            assert line, "fakesmsc stopped"
            match = _GOT.search(line)
            if match:
                # "sender receiver udh UDH data DATA" for a part, "sender receiver ucs2 DATA" for a whole one
                fields = match.group(1).split(" ")
                udh = _bytes(fields[3]) if fields[2] == "udh" else b""
                found.append((udh, _bytes(fields[-1])))
        return found

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


def _bytes(field: str) -> bytes:
    """fakesmsc's URL encoding, where + is a space (the byte 0x20 of a UCS-2 character, e.g. 映 U+6620)."""
    return urllib.parse.unquote_to_bytes(field.replace("+", "%20"))


async def phone(settings: Settings, *messages: str) -> Phone:
    sends = ["-m", str(len(messages)), *messages] if messages else ["-m", "0", "0 0 text nop"]
    process = await asyncio.create_subprocess_exec(
        FAKESMSC, "-H", "127.0.0.1", "-r", str(settings.sms.fake_port), "-i", "0.2", *sends,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    return Phone(process)


async def send(settings: Settings, to: str, text: str) -> str:
    query = {"username": "hotline", "password": SECRETS.sms_password, "to": to, "text": text, "charset": "UTF-8",
             "coding": "2"}
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{settings.sms.sendsms_port}/cgi-bin/sendsms", params=query) as response:
        answer = await response.text()
        assert response.status == 202, answer
    return answer


def joined(parts: list[tuple[bytes, bytes]]) -> tuple[str, int]:
    """The text of a concatenated SMS: its parts ordered by their UDH sequence number; and the parts' total."""
    totals = {udh[4] for udh, _data in parts}
    assert len(totals) == 1, f"the parts announce different totals: {totals}"
    ordered = sorted(parts, key=lambda part: part[0][5])
    return b"".join(data for _udh, data in ordered).decode("utf-16-be"), totals.pop()


async def test_a_long_chinese_sms_reaches_the_phone_in_parts_that_join_into_the_text(
        kannel: KannelProcess, sms_settings: Settings) -> None:
    handset = await phone(sms_settings)
    try:
        assert "Accepted" in await send(sms_settings, "13800138000", NOTICE)
        expected = split(NOTICE)
        parts = await wait(handset.received(len(expected.parts)), 20, "the phone did not get the SMS")
    finally:
        await handset.close()
    text, total = joined(parts)
    assert text == NOTICE and total == len(expected.parts) == 2, "UCS-2, 67 characters a part"
    assert [len(data) // 2 for _udh, data in sorted(parts, key=lambda p: p[0][5])] == [
        len(part) for part in expected.parts]


@pytest.fixture
async def incoming(sms_settings: Settings) -> AsyncIterator[asyncio.Queue[dict[str, str]]]:
    """Our web side of Kannel's sms-service: each incoming SMS's fields, as Kannel sends them."""
    arrived: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await arrived.put(dict(request.query) | {"body": await request.text(), "type": request.content_type})
        return web.Response(text="")

    app = web.Application()
    app.router.add_route("*", INCOMING_PATH, receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", sms_settings.web.port).start()
    yield arrived
    await runner.cleanup()


async def test_a_citizens_long_chinese_sms_reaches_our_endpoint_whole_in_utf8_with_the_token(
        kannel: KannelProcess, sms_settings: Settings, incoming: asyncio.Queue[dict[str, str]]) -> None:
    """1000 characters: 9000 bytes URL-encoded, more than a request line may be (aiohttp: 8190), so the text is
    the body of a POST."""
    words = ("人民路的路灯坏了三天了，晚上很黑，请尽快修理。" * 44)[:1000]
    ucs2 = urllib.parse.quote(words.encode("utf-16-be"))
    handset = await phone(sms_settings, f"13800138000 12345 ucs2 {ucs2}")
    try:
        fields = await wait(incoming.get(), 20, "the citizen's SMS did not reach our endpoint")
    finally:
        await handset.close()
    assert (fields["token"], fields["from"], fields["to"], fields["body"], fields["type"]) == (
        "kannel-token", "13800138000", "12345", words, "text/plain")
    assert fields["smsc"] == "fake" and fields["id"]


async def test_an_sms_accepted_while_the_network_is_away_waits_and_is_delivered_once(
        kannel: KannelProcess, sms_settings: Settings) -> None:
    assert "Queued for later delivery" in await send(sms_settings, "13800138001", "回访短信：您的工单已办结。"), \
        "no phone network (no SMSC connected): Kannel keeps the message"
    await kannel.stop()  # Kannel restarts with the message still in its store
    await kannel.start()
    handset = await phone(sms_settings)
    try:
        [(udh, data)] = await wait(handset.received(1), 20, "the stored SMS was not delivered after the restart")
        assert (udh, data.decode("utf-16-be")) == (b"", "回访短信：您的工单已办结。")
        with pytest.raises(TimeoutError):  # nothing else comes: delivered once
            async with asyncio.timeout(3):
                await handset.received(1)
    finally:
        await handset.close()

    folder = kannel.layout.folder
    access = (folder / "access.log").read_text()
    assert "Sent SMS" in access and "[to:13800138001]" in access
    assert "回访短信" not in access and "56de8bbf" not in access.lower(), "no message text, nor its UCS-2 in hex"
    assert {path.name for path in folder.iterdir()} >= {"kannel.conf", "store.bak", "access.log", "smsbox.log"}
    for path in [folder, *folder.iterdir()]:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


async def test_kannel_listens_on_loopback_only_and_closes_boxes_and_clients_from_other_addresses(
        kannel: KannelProcess, sms_settings: Settings) -> None:
    sms = sms_settings.sms
    listening_elsewhere = [port for port in (sms.admin_port, sms.box_port, sms.sendsms_port, sms.fake_port)
                           if await _connects(OTHER_ADDRESS, port)]
    assert listening_elsewhere == [], "a port listening on every address takes a connection to 127.0.0.5"
    reader, writer = await asyncio.open_connection(LOOPBACK, sms.box_port, local_addr=(OTHER_ADDRESS, 0))
    try:
        assert await wait(_closed(reader), 10, "bearerbox kept a box connection from 127.0.0.5 open")
    finally:
        writer.close()
    assert "Box connection tried from denied host <127.0.0.5>" in kannel.layout.log("bearerbox").read_text()
    query = {"username": "hotline", "password": SECRETS.sms_password, "to": "13800138000", "text": "spam"}
    elsewhere = aiohttp.TCPConnector(local_addr=(OTHER_ADDRESS, 0))
    async with aiohttp.ClientSession(connector=elsewhere) as session:
        async with session.get(f"http://{LOOPBACK}:{sms.sendsms_port}/cgi-bin/sendsms", params=query) as response:
            assert response.status == 403, "sendsms refuses a client from another address"
        with pytest.raises(aiohttp.ServerDisconnectedError):  # the admin port closes without an answer
            await session.get(f"http://{LOOPBACK}:{sms.admin_port}/status", params={"password": "admin-pw"})
    assert kannel.running, "smsbox, on loopback, is still connected"


async def _connects(host: str, port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        return False
    writer.close()
    return True


async def _closed(reader: asyncio.StreamReader) -> bool:
    """Whether the other end closed the connection (it sends nothing first)."""
    with contextlib.suppress(ConnectionResetError):
        return await reader.read() == b""
    return True
