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


def test_a_seat_status_from_one_queue_holds_in_all_its_queues() -> None:
    """Asterisk reports a seat's phone state from the direct queue only (ivr/ami/events.py)."""
    state = QueueState()
    member = {"Interface": "PJSIP/8001", "MemberName": "1001", "Status": "1", "Paused": "0"}
    for queue, penalty in (("hotline-general", "0"), ("hotline-english", "2"), ("hotline-direct", "1")):
        state.handle("QueueMemberAdded", {**member, "Queue": queue, "Penalty": penalty})
    state.handle("QueueMemberPause", {**member, "Queue": "hotline-english", "Paused": "1"})

    state.handle("QueueMemberStatus", {**member, "Queue": "hotline-direct", "Status": "2"})

    general, english = state.queues["hotline-general"], state.queues["hotline-english"]
    assert general.members["PJSIP/8001"].status == english.members["PJSIP/8001"].status == "in_use"
    assert english.members["PJSIP/8001"].paused and english.members["PJSIP/8001"].penalty == 2, \
        "pause and penalty stay the queue's own"
    state.handle("QueueMemberStatus", {**member, "Queue": "hotline-direct", "Status": "1"})
    assert general.members["PJSIP/8001"].available and not english.members["PJSIP/8001"].available
    assert state.summary()["queues"]["hotline-general"] == {"members": 1, "available": 1, "waiting": 0}
