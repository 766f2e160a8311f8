"""After an Asterisk restart the AMI client logs in while Asterisk is still loading its modules (QueueStatus is an
unknown command until app_queue is loaded): the queues are re-read as soon as Asterisk says FullyBooted, not after
a growing back-off, and never given up on while the connection lasts.

A small fake manager on a local port plays Asterisk: it answers the login, refuses QueueStatus until the test
boots it, then sends FullyBooted and answers QueueStatus with one queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from ivr.ami.client import AmiClient
from ivr.ami.queue_state import QueueState
from ivr.settings import AmiSettings
from tests.helpers import wait

END = "\r\n\r\n"


class BootingAsterisk:
    def __init__(self) -> None:
        self.booted = False
        self.writers: list[asyncio.StreamWriter] = []
        self.logged_in = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                message = (await reader.readuntil(END.encode())).decode()
                fields = dict(line.split(": ", 1) for line in message.strip().split("\r\n") if ": " in line)
                writer.write(self.answer(fields).encode())

    def answer(self, fields: dict[str, str]) -> str:
        action, action_id = fields.get("Action", "").lower(), fields.get("ActionID", "")
        if action == "login":
            self.logged_in.set()
            return f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted{END}"
        if action != "queuestatus":
            return f"Response: Success\r\nActionID: {action_id}{END}"
        if not self.booted:
            return f"Response: Error\r\nActionID: {action_id}\r\nMessage: Invalid/unknown command{END}"
        return (f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\nMessage: Queue status will "
                f"follow{END}Event: QueueParams\r\nActionID: {action_id}\r\nQueue: hotline-general{END}"
                f"Event: QueueStatusComplete\r\nActionID: {action_id}\r\nEventList: Complete\r\nListItems: 1{END}")

    def boot(self) -> None:
        self.booted = True
        for writer in self.writers:
            writer.write(f"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted{END}".encode())


@pytest.fixture
async def asterisk() -> AsyncIterator[tuple[BootingAsterisk, int]]:
    fake = BootingAsterisk()
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    yield fake, server.sockets[0].getsockname()[1]
    for writer in fake.writers:
        writer.close()
    server.close()


async def test_the_queues_are_reread_as_soon_as_asterisk_is_fully_booted(
        asterisk: tuple[BootingAsterisk, int]) -> None:
    fake, port = asterisk
    client = AmiClient(AmiSettings(port=port), "secret", QueueState())
    await client.start()
    try:
        await wait(fake.logged_in.wait(), 5, "the client did not log in")
        await asyncio.sleep(1.5)  # Asterisk loading its modules after the login
        assert client.refreshes == 0 and client.queue_state.stale
        fake.boot()
        await wait(client.wait_refreshed(after=0, timeout=60), 0.5,
                   "the queue state was not re-read after Asterisk's FullyBooted")
        assert set(client.queue_state.queues) == {"hotline-general"} and not client.queue_state.stale
    finally:
        await client.stop()
