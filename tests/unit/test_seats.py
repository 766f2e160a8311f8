"""Seat logic: who is where from the event record, and what to tell Asterisk when its queue disagrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.seats import PAUSE_REASONS, Fix, Member, Presence, SeatEvent, presence_from_events, reconcile

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def event(agent_id: str, seat: str, kind: str, minute: int, reason: str | None = None) -> SeatEvent:
    return SeatEvent(agent_id, seat, kind, reason, START + timedelta(minutes=minute))


def present(agent_id: str, seat: str, paused: bool = False, reason: str | None = None) -> Presence:
    return Presence(agent_id, seat, paused, reason, START)


# presence_from_events


def test_login_puts_the_agent_on_the_seat_unpaused() -> None:
    assert presence_from_events([event("1001", "8001", "login", 0)]) == {
        "1001": Presence("1001", "8001", False, None, START)
    }


def test_pause_keeps_the_seat_and_records_reason_and_time() -> None:
    presence = presence_from_events([event("1001", "8001", "login", 0), event("1001", "8001", "pause", 5, "break")])
    assert presence["1001"] == Presence("1001", "8001", True, "break", START + timedelta(minutes=5))


def test_resume_clears_the_pause_and_its_reason() -> None:
    presence = presence_from_events([
        event("1001", "8001", "login", 0),
        event("1001", "8001", "pause", 5, "meeting"),
        event("1001", "8001", "resume", 9, "meeting"),  # a reason on a resume is ignored
    ])
    assert presence["1001"] == Presence("1001", "8001", False, None, START + timedelta(minutes=9))


def test_logout_removes_the_agent_even_while_paused() -> None:
    presence = presence_from_events([
        event("1001", "8001", "login", 0),
        event("1001", "8001", "pause", 1, "break"),
        event("1001", "8001", "logout", 2),
    ])
    assert presence == {}


def test_login_on_another_seat_moves_the_agent_and_clears_the_pause() -> None:
    presence = presence_from_events([
        event("1001", "8001", "login", 0),
        event("1001", "8001", "pause", 1, "training"),
        event("1001", "8002", "login", 2),
    ])
    assert presence == {"1001": Presence("1001", "8002", False, None, START + timedelta(minutes=2))}


def test_pause_and_resume_without_a_login_are_ignored() -> None:
    presence = presence_from_events([
        event("1001", "8001", "pause", 0, "break"),
        event("1002", "8002", "resume", 1),
        event("1002", "8002", "login", 2),
    ])
    assert list(presence) == ["1002"]
    assert not presence["1002"].paused


def test_pause_after_logout_is_ignored() -> None:
    presence = presence_from_events([
        event("1001", "8001", "login", 0),
        event("1001", "8001", "logout", 1),
        event("1001", "8001", "pause", 2, "break"),
    ])
    assert presence == {}


def test_agents_are_replayed_independently() -> None:
    presence = presence_from_events([
        event("1001", "8001", "login", 0),
        event("1002", "8002", "login", 1),
        event("1001", "8001", "pause", 2, "break"),
        event("1002", "8002", "logout", 3),
    ])
    assert presence == {"1001": Presence("1001", "8001", True, "break", START + timedelta(minutes=2))}


def test_pause_reasons_have_labels() -> None:
    assert set(PAUSE_REASONS) == {"break", "training", "after_call_work", "meeting"}
    assert all(label for label in PAUSE_REASONS.values())


# reconcile


def test_missing_member_is_added() -> None:
    assert reconcile({"1001": present("1001", "8001")}, {}) == [Fix("add", "8001", "1001")]


def test_member_of_another_agent_on_a_wanted_seat_is_replaced() -> None:
    fixes = reconcile({"1001": present("1001", "8001")}, {"8001": Member("8001", "1002", False)})
    assert fixes == [Fix("remove", "8001", "1002"), Fix("add", "8001", "1001")]


def test_stale_member_nobody_wants_is_removed() -> None:
    assert reconcile({}, {"8005": Member("8005", "1005", True)}) == [Fix("remove", "8005", "1005")]


def test_paused_in_our_record_but_not_in_asterisk_is_paused_with_the_reason() -> None:
    fixes = reconcile({"1001": present("1001", "8001", True, "after_call_work")},
                      {"8001": Member("8001", "1001", False)})
    assert fixes == [Fix("pause", "8001", "1001", "after_call_work")]


def test_paused_in_asterisk_but_not_in_our_record_is_resumed() -> None:
    fixes = reconcile({"1001": present("1001", "8001")}, {"8001": Member("8001", "1001", True)})
    assert fixes == [Fix("resume", "8001", "1001")]


def test_wanted_paused_and_missing_is_added_then_paused() -> None:
    fixes = reconcile({"1001": present("1001", "8001", True, "break")}, {})
    assert fixes == [Fix("add", "8001", "1001"), Fix("pause", "8001", "1001", "break")]


def test_agent_moved_while_asterisk_was_away_is_removed_from_the_old_seat() -> None:
    fixes = reconcile({"1001": present("1001", "8002")}, {"8001": Member("8001", "1001", False)})
    assert fixes == [Fix("remove", "8001", "1001"), Fix("add", "8002", "1001")]


def test_matching_queue_needs_no_fixes() -> None:
    wanted = {"1001": present("1001", "8001"), "1002": present("1002", "8002", True, "break")}
    members = {"8001": Member("8001", "1001", False), "8002": Member("8002", "1002", True)}
    assert reconcile(wanted, members) == []
    assert reconcile({}, {}) == []


def test_fixes_come_in_a_fixed_order_removes_first_then_by_seat() -> None:
    wanted = {
        "1003": present("1003", "8003", True, "meeting"),
        "1001": present("1001", "8001"),
        "1002": present("1002", "8002", True, "break"),
    }
    members = {
        "8009": Member("8009", "1009", False),
        "8002": Member("8002", "1002", False),
        "8001": Member("8001", "1007", False),
        "8004": Member("8004", "1004", True),
    }
    expected = [
        Fix("remove", "8001", "1007"),
        Fix("remove", "8004", "1004"),
        Fix("remove", "8009", "1009"),
        Fix("add", "8001", "1001"),
        Fix("pause", "8002", "1002", "break"),
        Fix("add", "8003", "1003"),
        Fix("pause", "8003", "1003", "meeting"),
    ]
    assert reconcile(wanted, members) == expected
    # The order depends on the content only, not on the order the mappings were filled in.
    assert reconcile(dict(reversed(wanted.items())), dict(reversed(members.items()))) == expected
