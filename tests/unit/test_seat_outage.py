"""With the database away, agents still log out, pause and resume: Asterisk is told at once, and the events are
written, in order and once each, when the database is back, also by a server started again in between (spool).
A log-in needs the database and says so (503)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.agents.errors import DatabaseUnavailable
from ivr.agents.outbox import SeatOutbox
from ivr.agents.service import AgentService
from ivr.agents.store import AgentStore
from ivr.db.engine import create_engine
from ivr.db.models import AgentEvent
from ivr.settings import Settings, load_settings
from routing.seats import SeatEvent
from tests.helpers import PostgresOutage, database_with_outage
from tests.unit.test_desk_api import FakeAmi


@pytest.fixture
async def outage(migrated_templates: dict[str, str]) -> AsyncIterator[tuple[PostgresOutage, AsyncEngine]]:
    """A migrated PostgreSQL database reached through a port the test can take away."""
    async with database_with_outage(migrated_templates["postgresql"]) as (proxy, url):
        engine = create_engine(url)
        yield proxy, engine
        await engine.dispose()


def service_for(engine: AsyncEngine, data_dir: Path) -> tuple[AgentService, FakeAmi]:
    settings: Settings = load_settings(environ={"HOTLINE_DATA_DIR": str(data_dir)})
    ami = FakeAmi({*settings.line_queues, settings.direct_queue})
    return AgentService(settings, ami, AgentStore(engine)), ami  # type: ignore[arg-type]


async def stored_kinds(engine: AsyncEngine, agent_id: str) -> list[str]:
    async with engine.connect() as connection:
        query = select(AgentEvent.kind).where(AgentEvent.agent_id == agent_id).order_by(AgentEvent.id)
        return list((await connection.execute(query)).scalars())


def pauses_sent(ami: FakeAmi) -> list[str]:
    return [action["Paused"] for action in ami.sent if action["Action"] == "QueuePause"]


async def test_pause_resume_and_log_out_reach_asterisk_and_are_written_when_the_database_is_back(
        outage: tuple[PostgresOutage, AsyncEngine], tmp_path: Path) -> None:
    proxy, engine = outage
    service, ami = service_for(engine, tmp_path)
    await service.store.add("1001", "坐席")
    await service.store.add("1002", "坐席")
    await service.login("1001", "8001")
    await service.pause("1001", "break")

    await proxy.away()
    await service.resume("1001")
    await service.pause("1001", "meeting")
    await service.resume("1001")
    await service.logout("1001")
    with pytest.raises(DatabaseUnavailable):
        await service.login("1002", "8002")

    assert pauses_sent(ami) == ["true", "false", "true", "false"], "every change reached Asterisk at once"
    assert "1001" not in await service.presence()
    assert len(service.outbox.events) == 4 and not service.outbox.empty.is_set()
    await proxy.back()
    await service.outbox.write()
    await service.outbox.write()  # nothing twice
    assert await stored_kinds(engine, "1001") == ["login", "pause", "resume", "pause", "resume", "logout"]
    assert service.outbox.empty.is_set() and not service.outbox.spool.exists()


async def test_changes_kept_by_a_server_that_stopped_during_the_outage_are_written_by_the_next(
        outage: tuple[PostgresOutage, AsyncEngine], tmp_path: Path) -> None:
    proxy, engine = outage
    service, _ami = service_for(engine, tmp_path)
    await service.store.add("1003", "坐席")
    await service.login("1003", "8003")
    await proxy.away()
    await service.pause("1003", "training")

    restarted, _ami = service_for(engine, tmp_path)
    restarted.outbox.load()
    assert [event.kind for event in restarted.outbox.events] == ["pause"]
    await proxy.back()
    presence = await restarted.presence()  # writes what waits first
    assert presence["1003"].paused and presence["1003"].reason == "training"
    assert await stored_kinds(engine, "1003") == ["login", "pause"]


async def test_an_event_written_again_is_stored_once(outage: tuple[PostgresOutage, AsyncEngine],
                                                     tmp_path: Path) -> None:
    _proxy, engine = outage
    store = AgentStore(engine)
    await store.add("1004", "坐席")
    outbox = SeatOutbox(store, tmp_path / "seats.jsonl")
    event = SeatEvent("1004", "8004", "login", None, datetime.now(UTC))
    outbox.add(event)
    await outbox.write()
    outbox.add(event)  # as when the first write's insert went through but its answer was lost
    await outbox.write()
    assert await stored_kinds(engine, "1004") == ["login"]
