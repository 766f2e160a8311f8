"""Seat logic: who is where from the event record, and what to tell Asterisk when its queue disagrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.seats import PAUSE_REASONS, Fix, Member, Presence, SeatEvent, joins, presence_from_events, reconcile

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


# reconcile: one line queue G and the direct queue D in these tests

G, D = "hotline-general", "hotline-direct"
QUEUES = {"1001": {G: 0, D: 1}, "1002": {G: 0, D: 2}, "1005": {G: 0, D: 5}}


def member(queue: str, seat: str, agent_id: str, paused: bool = False) -> Member:
    return Member(queue, seat, agent_id, paused, QUEUES.get(agent_id, {}).get(queue, 0))


def both(seat: str, agent_id: str, paused: bool = False) -> list[Member]:
    return [member(G, seat, agent_id, paused), member(D, seat, agent_id, paused)]


def test_missing_member_is_added_to_each_of_its_queues_with_its_penalty() -> None:
    assert reconcile({"1001": present("1001", "8001")}, [], QUEUES) == [
        Fix("add", "8001", "1001", queue=D, penalty=1), Fix("add", "8001", "1001", queue=G, penalty=0)]


def test_member_of_another_agent_on_a_wanted_seat_is_replaced() -> None:
    fixes = reconcile({"1001": present("1001", "8001")}, both("8001", "1002"), QUEUES)
    assert fixes == [Fix("remove", "8001", "1002", queue=D), Fix("remove", "8001", "1002", queue=G),
                     Fix("add", "8001", "1001", queue=D, penalty=1), Fix("add", "8001", "1001", queue=G)]


def test_stale_member_nobody_wants_is_removed() -> None:
    assert reconcile({}, [member(G, "8005", "1005", True)], QUEUES) == [Fix("remove", "8005", "1005", queue=G)]


def test_paused_in_our_record_but_not_in_asterisk_is_paused_with_the_reason() -> None:
    fixes = reconcile({"1001": present("1001", "8001", True, "after_call_work")}, both("8001", "1001"), QUEUES)
    assert fixes == [Fix("pause", "8001", "1001", "after_call_work", queue=D),
                     Fix("pause", "8001", "1001", "after_call_work", queue=G)]


def test_paused_in_asterisk_but_not_in_our_record_is_resumed_where_it_is_paused() -> None:
    fixes = reconcile({"1001": present("1001", "8001")}, [member(G, "8001", "1001", True), member(D, "8001", "1001")],
                      QUEUES)
    assert fixes == [Fix("resume", "8001", "1001", queue=G)]


def test_wanted_paused_and_missing_is_added_then_paused() -> None:
    fixes = reconcile({"1001": present("1001", "8001", True, "break")}, [member(D, "8001", "1001", True)], QUEUES)
    assert fixes == [Fix("add", "8001", "1001", queue=G), Fix("pause", "8001", "1001", "break", queue=G)]


def test_agent_moved_while_asterisk_was_away_is_removed_from_the_old_seat() -> None:
    fixes = reconcile({"1001": present("1001", "8002")}, [member(G, "8001", "1001")], {"1001": {G: 0}})
    assert fixes == [Fix("remove", "8001", "1001", queue=G), Fix("add", "8002", "1001", queue=G)]


def test_a_changed_penalty_or_a_line_no_longer_served_is_fixed() -> None:
    """The agent's skills changed: dialect level 0 → 3, and the enterprise line dropped."""
    members = [Member("hotline-dialect", "8001", "1001", False, 0),
               Member("hotline-enterprise", "8001", "1001", False, 10)]
    fixes = reconcile({"1001": present("1001", "8001")}, members, {"1001": {"hotline-dialect": 3}})
    assert fixes == [Fix("remove", "8001", "1001", queue="hotline-dialect"),
                     Fix("remove", "8001", "1001", queue="hotline-enterprise"),
                     Fix("add", "8001", "1001", queue="hotline-dialect", penalty=3)]


def test_matching_queues_need_no_fixes() -> None:
    wanted = {"1001": present("1001", "8001"), "1002": present("1002", "8002", True, "break")}
    assert reconcile(wanted, both("8001", "1001") + both("8002", "1002", True), QUEUES) == []
    assert reconcile({}, [], {}) == []


def test_joins_add_every_queue_then_pause_once_for_all() -> None:
    assert joins(present("1001", "8001", True, "break"), {G: 0, D: 1}) == [
        Fix("add", "8001", "1001", queue=D, penalty=1), Fix("add", "8001", "1001", queue=G),
        Fix("pause", "8001", "1001", "break")]
