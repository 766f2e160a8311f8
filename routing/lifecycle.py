"""The work order's closed loop as data: 受理 → 派单 → 签收 → 办理/答复 → 办结 → 回访 → 评价.

Every change is an action from a state, allowed to some roles and, where the rules say so, only under a
condition on the order (a consultation may be closed at intake; a department may return an order only
once the centre has not ruled it final; the centre closes only when every assisting department has
replied). Nothing else can happen to an order: `apply` refuses anything outside the table, with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

# States. END_STATES are where an order's life stops; every order reaches exactly one of them.
DRAFT = "draft"  # from voicemail, SMS or the web, not yet accepted by an agent
ACCEPTED = "accepted"  # 受理
DISPATCHED = "dispatched"  # 派单: with the lead department (and assisting ones)
SIGNED = "signed"  # 签收: the lead department has taken it on
RETURNED = "returned"  # 退单: the department gave it back; the centre reviews the return
REPLIED = "replied"  # 答复: the lead department's answer, for the centre to check
CLOSED = "closed"  # 办结
VISITED = "visited"  # 回访: the citizen was asked
EVALUATED = "evaluated"  # 评价 recorded: the end of a handled order
MERGED = "merged"  # 并单: folded into another order, whose answer and visit reach this citizen too
DISCARDED = "discarded"  # a draft that was no request (silence, a wrong number)
END_STATES = frozenset({EVALUATED, MERGED, DISCARDED})

AGENT, SUPERVISOR, DEPARTMENT_STAFF, DEPARTMENT_ADMIN, SYSTEM = (
    "agent", "supervisor", "department_staff", "department_admin", "system")
CENTRE = frozenset({AGENT, SUPERVISOR})
DEPARTMENT = frozenset({DEPARTMENT_STAFF, DEPARTMENT_ADMIN})

TYPES = ("consultation", "help", "complaint", "report", "suggestion", "praise")  # 咨询 求助 投诉 举报 建议 表扬


@dataclass(frozen=True)
class Order:
    """What the rules look at; the database row has more."""

    state: str
    type: str
    returns: int = 0  # how often departments gave it back
    final_ruling: bool = False  # the centre ruled on a second return: no more returns
    extension: str = "none"  # none, requested, approved, refused
    assisting_pending: frozenset[str] = frozenset()  # assisting departments that have not replied
    satisfied: bool | None = None  # the return visit's answer


class NotAllowed(ValueError):
    """The action cannot be taken on this order by this role; the message says why."""


@dataclass(frozen=True)
class Rule:
    source: frozenset[str]
    target: str | None  # None: the state stays (an extension, an assisting reply)
    roles: frozenset[str]
    condition: Callable[[Order], str | None] = lambda order: None  # a reason to refuse, or None
    effect: Callable[[Order], Order] = field(default=lambda order: order)


def _only_consultation(order: Order) -> str | None:
    return None if order.type in ("consultation", "help") else "only a consultation or a help request closes at intake"


def _may_return(order: Order) -> str | None:
    return "the centre's ruling on this order is final: it cannot be returned again" if order.final_ruling else None


def _extension_open(order: Order) -> str | None:
    return None if order.extension == "none" else f"an extension was already {order.extension}"


def _extension_requested(order: Order) -> str | None:
    return None if order.extension == "requested" else "no extension is waiting for a decision"


def _assists_done(order: Order) -> str | None:
    pending = sorted(order.assisting_pending)
    return f"assisting departments have not replied: {', '.join(pending)}" if pending else None


def _visit_answered(wanted: bool) -> Callable[[Order], str | None]:
    def check(order: Order) -> str | None:
        if order.satisfied is None:
            return "the return visit has no answer yet"
        return None if order.satisfied is wanted else "the citizen's answer does not lead there"
    return check


def _returned(order: Order) -> Order:
    return replace(order, returns=order.returns + 1)


def _ruled(order: Order) -> Order:
    """Sending a twice-returned order back to the same department is the centre's final ruling."""
    return replace(order, final_ruling=order.returns >= 2)


OPEN = frozenset({DRAFT, ACCEPTED, DISPATCHED, SIGNED, RETURNED, REPLIED})

RULES: Mapping[str, Rule] = {
    "accept": Rule(frozenset({DRAFT}), ACCEPTED, CENTRE),
    "discard": Rule(frozenset({DRAFT}), DISCARDED, CENTRE),
    "close_at_intake": Rule(frozenset({ACCEPTED}), CLOSED, CENTRE, _only_consultation),
    "dispatch": Rule(frozenset({ACCEPTED}), DISPATCHED, CENTRE),
    "sign": Rule(frozenset({DISPATCHED}), SIGNED, DEPARTMENT),
    # 转派: a district or a municipal department passes the order down to one of its own units (a street
    # office, a community), which signs it anew; the deadline stays the order's.
    "forward": Rule(frozenset({DISPATCHED, SIGNED}), DISPATCHED, frozenset({DEPARTMENT_ADMIN})),
    "return": Rule(frozenset({DISPATCHED, SIGNED}), RETURNED, DEPARTMENT, _may_return, _returned),
    "redispatch": Rule(frozenset({RETURNED}), DISPATCHED, frozenset({SUPERVISOR})),  # 改派: the return accepted
    "reject_return": Rule(frozenset({RETURNED}), DISPATCHED, frozenset({SUPERVISOR}), effect=_ruled),
    "request_extension": Rule(frozenset({SIGNED}), None, DEPARTMENT, _extension_open,
                              lambda o: replace(o, extension="requested")),
    "approve_extension": Rule(frozenset({SIGNED}), None, frozenset({SUPERVISOR}), _extension_requested,
                              lambda o: replace(o, extension="approved")),
    "refuse_extension": Rule(frozenset({SIGNED}), None, frozenset({SUPERVISOR}), _extension_requested,
                             lambda o: replace(o, extension="refused")),
    "reply": Rule(frozenset({SIGNED}), REPLIED, DEPARTMENT),
    "send_back": Rule(frozenset({REPLIED}), SIGNED, CENTRE),  # the reply does not answer the request
    "close": Rule(frozenset({REPLIED}), CLOSED, CENTRE, _assists_done),
    "visit": Rule(frozenset({CLOSED}), VISITED, CENTRE | {SYSTEM}),
    "evaluate": Rule(frozenset({VISITED}), EVALUATED, CENTRE | {SYSTEM}, _visit_answered(True)),
    # 重办: the system opens it when the citizen says the problem is not solved and is dissatisfied; a supervisor
    # may after reviewing a dissatisfied answer.
    "rehandle": Rule(frozenset({VISITED}), DISPATCHED, frozenset({SUPERVISOR, SYSTEM}), _visit_answered(False),
                     lambda o: replace(o, satisfied=None, extension="none")),
    # The centre's review of a dissatisfied answer ends the loop: the rating stands (unless an appeal is upheld).
    "conclude": Rule(frozenset({VISITED}), EVALUATED, frozenset({SUPERVISOR}), _visit_answered(False)),
    "unreachable": Rule(frozenset({CLOSED}), EVALUATED, CENTRE | {SYSTEM}),  # no answer after every attempt
    "merge": Rule(OPEN, MERGED, CENTRE),
}


def allowed(order: Order, role: str) -> list[str]:
    """The actions this role may take on the order now (for the buttons a page shows)."""
    return [name for name, rule in RULES.items() if _refusal(order, rule, role) is None]


def apply(order: Order, action: str, role: str) -> Order:
    rule = RULES.get(action)
    if rule is None:
        raise NotAllowed(f"no action {action!r}")
    refusal = _refusal(order, rule, role)
    if refusal is not None:
        raise NotAllowed(f"{action} refused: {refusal}")
    changed = rule.effect(order)
    return replace(changed, state=rule.target) if rule.target else changed


def _refusal(order: Order, rule: Rule, role: str) -> str | None:
    if order.state not in rule.source:
        return f"not from state {order.state}"
    if role not in rule.roles:
        return f"not for role {role}"
    return rule.condition(order)


def assisting_replied(order: Order, department: str) -> Order:
    """An assisting department (协办) signs and replies on its own; the lead's closure waits for all of them."""
    if order.state not in (SIGNED, REPLIED) or department not in order.assisting_pending:
        raise NotAllowed(f"{department} has no reply pending on this order")
    return replace(order, assisting_pending=order.assisting_pending - {department})
