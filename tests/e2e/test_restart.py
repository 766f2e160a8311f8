"""Asterisk restarts under a running hotline: AMI reconnects by itself and re-reads the queue state."""

from __future__ import annotations

import pytest

from ivr import keys
from tests.helpers import Hotline, wait

pytestmark = pytest.mark.asterisk


async def test_ami_reconnects_after_an_asterisk_restart_and_rereads_queue_state(hotline: Hotline) -> None:
    client = hotline.app[keys.AMI]
    logins, refreshes = client.logins, client.refreshes
    lost = hotline.expect_ami_event(lambda name, _fields: name == "Shutdown")

    assert await hotline.asterisk.cli("core restart now") is not None
    await wait(lost, 10, "Asterisk did not announce its shutdown over AMI")
    assert client.queue_state.stale, "state read before the restart must not be shown as current"

    await hotline.asterisk.wait_fully_booted()
    await client.wait_refreshed(after=refreshes, timeout=20)
    assert client.logins == logins + 1
    assert client.connected
    assert not client.queue_state.stale
    hotline_queue = client.queue_state.queues["hotline"]
    assert len(hotline_queue.members) == hotline.settings.sip.agent_count
    assert hotline_queue.waiting == set()
