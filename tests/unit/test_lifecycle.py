"""The work order's lifecycle: property-based (no step outside the table, no dead end, exactly one end state)
and the rules for returns, extensions, merges, assisting departments and re-handling."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.lifecycle import (
    ACCEPTED,
    AGENT,
    CLOSED,
    DEPARTMENT_ADMIN,
    DEPARTMENT_STAFF,
    DISPATCHED,
    DRAFT,
    END_STATES,
    EVALUATED,
    MERGED,
    RETURNED,
    RULES,
    SIGNED,
    SUPERVISOR,
    SYSTEM,
    TYPES,
    NotAllowed,
    Order,
    allowed,
    apply,
    assisting_replied,
)

ROLES = [AGENT, SUPERVISOR, DEPARTMENT_STAFF, DEPARTMENT_ADMIN, SYSTEM]
STEPS = st.lists(st.tuples(st.sampled_from(sorted(RULES)), st.sampled_from(ROLES), st.booleans()), max_size=40)


def walk(order: Order, steps: list[tuple[str, str, bool]]) -> list[tuple[Order, str, Order]]:
    """Try each step; the visit's answer is drawn too. Returns the steps that were taken."""
    taken = []
    for action, role, answer in steps:
        if action == "visit":
            order = replace(order, satisfied=None)
        try:
            after = apply(order, action, role)
        except NotAllowed:
            continue
        if action == "visit":
            after = replace(after, satisfied=answer)
        taken.append((order, action, after))
        order = after
    return taken


@settings(max_examples=300)
@given(kind=st.sampled_from(TYPES), steps=STEPS)
def test_no_step_outside_the_table_and_nothing_after_an_end(kind: str, steps: list[tuple[str, str, bool]]) -> None:
    for before, action, after in walk(Order(DRAFT, kind), steps):
        rule = RULES[action]
        assert before.state in rule.source and (rule.target is None or after.state == rule.target)
        assert before.state not in END_STATES, f"{action} after the end ({before.state})"


@settings(max_examples=300)
@given(kind=st.sampled_from(TYPES), steps=STEPS)
def test_every_order_can_still_reach_exactly_one_end(kind: str, steps: list[tuple[str, str, bool]]) -> None:
    taken = walk(Order(DRAFT, kind), steps)
    order = taken[-1][2] if taken else Order(DRAFT, kind)
    ends = [after.state for _, _, after in taken if after.state in END_STATES]
    assert len(ends) <= 1
    if order.state in END_STATES:
        assert all(allowed(order, role) == [] for role in ROLES)
    else:
        assert any(allowed(order, role) for role in ROLES), f"dead end in {order}"
        finished = apply(order, "merge", SUPERVISOR) if order.state not in (CLOSED, "visited") else None
        assert finished is None or finished.state == MERGED


def run(order: Order, *steps: tuple[str, str]) -> Order:
    for action, role in steps:
        order = apply(order, action, role)
    return order


def dispatched(kind: str = "complaint") -> Order:
    return run(Order(DRAFT, kind), ("accept", AGENT), ("dispatch", AGENT))


def test_a_consultation_answered_at_intake_closes_at_once_a_complaint_does_not() -> None:
    assert run(Order(ACCEPTED, "consultation"), ("close_at_intake", AGENT)).state == CLOSED
    with pytest.raises(NotAllowed, match="only a consultation"):
        apply(Order(ACCEPTED, "complaint"), "close_at_intake", AGENT)


def test_departments_cannot_act_for_the_centre_nor_the_centre_for_departments() -> None:
    with pytest.raises(NotAllowed, match="not for role department_staff"):
        apply(Order(ACCEPTED, "help"), "dispatch", DEPARTMENT_STAFF)
    with pytest.raises(NotAllowed, match="not for role agent"):
        apply(dispatched(), "sign", AGENT)


def test_a_return_accepted_is_redispatched_and_a_second_bounce_gets_a_final_ruling() -> None:
    order = run(dispatched(), ("return", DEPARTMENT_STAFF))
    assert (order.state, order.returns) == (RETURNED, 1)
    order = run(order, ("reject_return", SUPERVISOR))  # first: back to the department
    assert (order.state, order.final_ruling) == (DISPATCHED, False)
    order = run(order, ("sign", DEPARTMENT_STAFF), ("return", DEPARTMENT_ADMIN), ("reject_return", SUPERVISOR))
    assert (order.returns, order.final_ruling) == (2, True)
    with pytest.raises(NotAllowed, match="final"):
        apply(order, "return", DEPARTMENT_ADMIN)
    redispatched = run(dispatched(), ("return", DEPARTMENT_STAFF), ("redispatch", SUPERVISOR))
    assert redispatched.state == DISPATCHED and not redispatched.final_ruling


def test_one_extension_asked_before_the_reply_and_decided_by_the_centre() -> None:
    order = run(dispatched(), ("sign", DEPARTMENT_STAFF), ("request_extension", DEPARTMENT_STAFF))
    assert (order.state, order.extension) == (SIGNED, "requested")
    with pytest.raises(NotAllowed, match="already requested"):
        apply(order, "request_extension", DEPARTMENT_STAFF)
    with pytest.raises(NotAllowed, match="not for role"):
        apply(order, "approve_extension", DEPARTMENT_ADMIN)
    assert run(order, ("refuse_extension", SUPERVISOR)).extension == "refused"
    with pytest.raises(NotAllowed, match="not from state dispatched"):
        apply(dispatched(), "request_extension", DEPARTMENT_STAFF)


def test_the_lead_closes_only_once_every_assisting_department_replied() -> None:
    order = replace(dispatched(), assisting_pending=frozenset({"水务局", "城管局"}))
    order = run(order, ("sign", DEPARTMENT_STAFF), ("reply", DEPARTMENT_STAFF))
    with pytest.raises(NotAllowed, match="城管局, 水务局"):
        apply(order, "close", AGENT)
    order = assisting_replied(assisting_replied(order, "水务局"), "城管局")
    assert apply(order, "close", AGENT).state == CLOSED
    with pytest.raises(NotAllowed):
        assisting_replied(order, "水务局")


def test_a_dissatisfied_visit_is_handled_again_a_satisfied_one_ends_the_order() -> None:
    closed = run(dispatched(), ("sign", DEPARTMENT_STAFF), ("reply", DEPARTMENT_STAFF), ("close", AGENT))
    visited = apply(closed, "visit", SYSTEM)
    with pytest.raises(NotAllowed, match="no answer yet"):
        apply(visited, "evaluate", SYSTEM)
    again = apply(replace(visited, satisfied=False), "rehandle", SUPERVISOR)
    assert again.state == DISPATCHED and again.satisfied is None
    assert apply(replace(visited, satisfied=True), "evaluate", SYSTEM).state == EVALUATED
    with pytest.raises(NotAllowed, match="does not lead there"):
        apply(replace(visited, satisfied=True), "rehandle", SUPERVISOR)


def test_a_duplicate_is_merged_from_any_open_state_but_not_once_closed() -> None:
    for order in (Order(DRAFT, "help"), dispatched(), run(dispatched(), ("return", DEPARTMENT_STAFF))):
        assert apply(order, "merge", AGENT).state == MERGED
    with pytest.raises(NotAllowed):
        apply(Order(CLOSED, "help"), "merge", AGENT)
