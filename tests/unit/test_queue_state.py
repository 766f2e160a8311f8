"""Queue state: rebuilt from QueueStatus, kept by events, marked stale while AMI is away."""

from __future__ import annotations

from ivr.ami.queue_state import QueueState

STATUS_REPLY = [
    {"Response": "Success", "EventList": "start"},
    {"Event": "QueueParams", "Queue": "hotline", "Calls": "1"},
    {"Event": "QueueMember", "Queue": "hotline", "Name": "8001", "Location": "PJSIP/8001", "Status": "1",
     "Paused": "0", "CallsTaken": "4"},
    {"Event": "QueueMember", "Queue": "hotline", "Name": "8002", "Location": "PJSIP/8002", "Status": "5",
     "Paused": "0", "CallsTaken": "0"},
    {"Event": "QueueEntry", "Queue": "hotline", "Uniqueid": "1.1", "Position": "1"},
    {"Event": "QueueStatusComplete"},
]


def test_status_reply_rebuilds_everything() -> None:
    state = QueueState()
    assert state.stale
    state.replace(STATUS_REPLY)
    view = state.queues["hotline"]
    assert view.members["PJSIP/8001"].available and view.members["PJSIP/8001"].calls_taken == 4
    assert view.members["PJSIP/8002"].status == "unavailable"
    assert view.waiting == {"1.1"}
    assert state.summary()["queues"] == {"hotline": {"members": 2, "available": 1, "waiting": 1}}
    assert not state.stale


def test_events_keep_it_current() -> None:
    state = QueueState()
    state.replace(STATUS_REPLY)
    state.handle("QueueMemberStatus", {"Queue": "hotline", "Interface": "PJSIP/8002", "MemberName": "8002",
                                       "Status": "1", "Paused": "1"})
    state.handle("QueueCallerLeave", {"Queue": "hotline", "Uniqueid": "1.1"})
    state.handle("QueueCallerJoin", {"Queue": "hotline", "Uniqueid": "1.2"})
    state.handle("QueueMemberRemoved", {"Queue": "hotline", "Interface": "PJSIP/8001"})
    view = state.queues["hotline"]
    assert set(view.members) == {"PJSIP/8002"} and view.members["PJSIP/8002"].paused
    assert view.waiting == {"1.2"}


def test_a_lost_connection_makes_it_stale_until_reread() -> None:
    state = QueueState()
    state.replace(STATUS_REPLY)
    state.mark_stale()
    assert state.summary()["stale"] is True
    state.replace(STATUS_REPLY)
    assert state.summary()["stale"] is False
