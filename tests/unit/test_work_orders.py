"""Work orders: the repeat caller's open order, looked up at every greeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.workorders.store import WorkOrderStore

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


async def test_latest_open_is_the_callers_newest_order_in_the_window(engine: AsyncEngine) -> None:
    store = WorkOrderStore(engine)
    await store.add_from_call("138", "1.1", "1001", "street light out", NOW - timedelta(days=2))
    await store.add_from_call("138", "1.2", "1002", "still out", NOW)
    await store.add_from_call("139", "1.3", "1003", "noise", NOW)

    newest = await store.latest_open("138", NOW - timedelta(days=7))
    assert newest is not None and (newest.agent, newest.call_uniqueid) == ("1002", "1.2")
    assert await store.latest_open("138", NOW + timedelta(hours=1)) is None, "none since then"
    assert await store.latest_open("137", NOW - timedelta(days=7)) is None
