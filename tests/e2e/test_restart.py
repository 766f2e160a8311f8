"""Asterisk restarts under a running hotline: AMI reconnects, the queue is re-read, agents stay logged in."""

from __future__ import annotations

import pytest

from ivr import keys
from tests.helpers import Hotline, wait

pytestmark = pytest.mark.asterisk


async def log_in(hotline: Hotline, agent_id: str, seat: str, pause: str | None = None) -> None:
    await hotline.ensure_agent(agent_id)
    service = hotline.app[keys.AGENT_SERVICE]
    await service.login(agent_id, seat)
    if pause:
        await service.pause(agent_id, pause)


async def restart_asterisk(hotline: Hotline, wipe_queue_members: bool = False) -> None:
    """Restart Asterisk and wait until the hotline has logged in again and re-read the queue."""
    client = hotline.app[keys.AMI]
    logins, refreshes = client.logins, client.refreshes
    lost = hotline.expect_ami_event(lambda name, _fields: name == "Shutdown")
    booted = hotline.expect_ami_event(lambda name, _fields: name == "FullyBooted")
    if wipe_queue_members:
        # As after a reinstall: Asterisk's own copy of the members (in astdb) is gone.
        assert await hotline.asterisk.cli("database deltree Queue/PersistentMembers") is not None
    assert await hotline.asterisk.cli("core restart now") is not None
    await wait(lost, 10, "Asterisk did not announce its shutdown over AMI")
    assert client.queue_state.stale, "state read before the restart must not be shown as current"
    await wait(booted, 30, "Asterisk did not say FullyBooted over AMI after its restart")
    # The queues are read (and the agents put back) once Asterisk is booted: that is what makes the state fresh.
    await wait(client.wait_refreshed(after=refreshes, timeout=60), 5,
               "the queue state was not re-read, and the agents put back, after Asterisk's FullyBooted")
    assert client.logins == logins + 1 and client.connected and not client.queue_state.stale


async def test_ami_reconnects_after_an_asterisk_restart_and_rereads_queue_state(hotline: Hotline) -> None:
    await log_in(hotline, "1011", "8011")
    await log_in(hotline, "1012", "8012", pause="training")

    await restart_asterisk(hotline)

    members = hotline.app[keys.AMI].queue_state.queues["hotline-general"].members
    assert set(members) == {"PJSIP/8011", "PJSIP/8012"}
    assert (members["PJSIP/8011"].name, members["PJSIP/8011"].paused) == ("1011", False)
    assert (members["PJSIP/8012"].name, members["PJSIP/8012"].paused) == ("1012", True)


async def test_agents_logged_in_before_are_put_back_when_asterisk_forgot_them(hotline: Hotline) -> None:
    await log_in(hotline, "1013", "8013", pause="break")
    await log_in(hotline, "1014", "8014")
    await hotline.app[keys.AGENT_SERVICE].logout("1014")
    added = hotline.expect_ami_event(
        lambda name, fields: name == "QueueMemberPause" and fields.get("Interface") == "PJSIP/8013"
    )

    await restart_asterisk(hotline, wipe_queue_members=True)
    paused = await wait(added, 10, "agent 1013 was not put back, paused, on seat 8013")

    assert paused["MemberName"] == "1013" and paused["Paused"] == "1" and paused["PausedReason"] == "break"
    members = hotline.app[keys.AMI].queue_state.queues["hotline-general"].members
    assert set(members) == {"PJSIP/8013"}, "agent 1014 logged out: not put back"
