"""Reading orders: one order as a role may see it, a department's inbox, the search, the caller's history,
and the possible duplicates shown at intake. Every read of a confidential order is audited by the caller."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, and_, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import Attachment, OrderDepartment, OrderEvent, SupervisionEvent, WorkOrder, as_utc
from ivr.workorders.actors import HIDDEN, Actor, citizen_hidden, mask_number
from ivr.workorders.errors import BadOrder
from ivr.workorders.service import LIFECYCLE_ROLE, Loaded, assisting_actions
from routing import lifecycle
from routing.masking import IDENTITY_RULES, mask_text

PAGE_SIZE = 50
BIGRAMS = ARRAY(BigInteger)  # hotline_bigrams(text), PostgreSQL only
LIST_COLUMNS = (WorkOrder.id, WorkOrder.number, WorkOrder.status, WorkOrder.type, WorkOrder.topic,
                WorkOrder.caller_number, WorkOrder.confidential, WorkOrder.address, WorkOrder.content,
                WorkOrder.created_at, WorkOrder.due_at, WorkOrder.lead_department_id)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    page: int
    more: bool


def _time(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None


def citizen_fields(actor: Actor, row: Any, in_list: bool) -> dict[str, Any]:
    """The centre sees the citizen; a department sees them unless the order is confidential or a report,
    and lists show numbers masked (nobody calls a citizen from a list)."""
    if citizen_hidden(actor, row.confidential, row.type):
        return {"caller_number": HIDDEN, "citizen_name": HIDDEN}
    number = mask_number(row.caller_number) if in_list or not (actor.in_centre or actor.in_department) \
        else row.caller_number
    name = getattr(row, "citizen_name", None)
    return {"caller_number": number, "citizen_name": name}


def citizen_text(actor: Actor, row: Any, text: str | None, names: tuple[str | None, ...] = ()) -> str | None:
    """Free text as the actor may read it: where the citizen is hidden from them, with the citizen's names
    (the order's and `names`, those it had before), the citizen's number and every ID number masked. Other
    numbers stay: the department may need to reach the other party of a 举报."""
    if not citizen_hidden(actor, row.confidential, row.type):
        return text
    return mask_text(text, (getattr(row, "citizen_name", None), *names), (row.caller_number,), IDENTITY_RULES)


def summary(actor: Actor, row: Any, departments: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id, "number": row.number, "status": row.status, "type": row.type, "topic": row.topic,
        "address": row.address, "content": citizen_text(actor, row, (row.content or "")[:200]),
        "created_at": _time(row.created_at),
        "due_at": _time(row.due_at), "department": departments.get(row.lead_department_id or 0),
        **citizen_fields(actor, row, in_list=True),
    }


class OrderQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def detail(self, loaded_row: Any, departments_rows: list[Any], actor: Actor,
                     departments: dict[int, str]) -> dict[str, Any]:
        """One order as the actor may see it, with its departments, history, attachments and 督办 notices."""
        row = loaded_row
        async with self.engine.connect() as connection:
            events = (await connection.execute(select(OrderEvent).where(
                OrderEvent.order_id == row.id, OrderEvent.action.not_in(AUDIT_ACTIONS)).order_by(OrderEvent.id))
            ).all()
            files = (await connection.execute(select(Attachment).where(Attachment.order_id == row.id)
                                              .order_by(Attachment.id))).all()
            notices = (await connection.execute(select(SupervisionEvent).where(
                SupervisionEvent.order_id == row.id).order_by(SupervisionEvent.id))).all()
            merged = (await connection.execute(select(WorkOrder.number).where(
                WorkOrder.merged_into_id == row.id))).scalars().all()
        names = former_names(events)
        return {
            **summary(actor, row, departments),
            **citizen_fields(actor, row, in_list=False),
            "content": citizen_text(actor, row, row.content, names), "reply": row.reply, "channel": row.source,
            "confidential": row.confidential, "published": row.published,
            "public_id": row.public_id if actor.in_centre else None,
            "lat": row.lat, "long": row.long, "returns": row.returns, "final_ruling": row.final_ruling,
            "extension": row.extension, "satisfied": row.satisfied, "closed_at": _time(row.closed_at),
            "dispatched_at": _time(row.dispatched_at), "agent": row.agent if actor.in_centre else None,
            "merged_into": await self._number_of(row.merged_into_id), "merged": list(merged),
            "departments": [{
                "name": departments.get(d.department_id), "role": d.role, "signed_at": _time(d.signed_at),
                "replied_at": _time(d.replied_at), "reply": d.reply, "due_at": _time(d.due_at), "done": d.done,
            } for d in departments_rows],
            "history": [{
                "at": _time(e.at), "actor": e.actor if actor.in_centre or e.role != "agent" else "12345",
                "role": e.role, "action": e.action, "from": e.from_state, "to": e.to_state,
                "note": citizen_text(actor, row, e.note, names), "data": self._event_data(actor, row, e.data, names),
            } for e in events],
            "attachments": [{"id": f.id, "name": f.name, "kind": f.kind, "size": f.size,
                             "content_type": f.content_type, "added_at": _time(f.added_at)} for f in files],
            "supervision": [{"step": n.step, "recipient": n.recipient, "due_at": _time(n.due_at),
                             "sent_at": _time(n.sent_at)} for n in notices],
            "actions": lifecycle_actions(actor, row, departments_rows),
        }

    async def _number_of(self, order_id: int | None) -> str | None:
        if order_id is None:
            return None
        async with self.engine.connect() as connection:
            return (await connection.execute(select(WorkOrder.number).where(WorkOrder.id == order_id))
                    ).scalar_one_or_none()

    async def inbox(self, actor: Actor, departments: dict[int, str], page: int = 0, done: bool = False) -> Page:
        """A department's orders (lead and assisting), soonest deadline first; for the centre, all open orders."""
        if actor.in_department:
            query: Any = (
                select(*LIST_COLUMNS).join(OrderDepartment, OrderDepartment.order_id == WorkOrder.id)
                .where(OrderDepartment.department_id == actor.department_id, OrderDepartment.done.is_(done))
                .order_by(OrderDepartment.due_at.asc().nulls_last(), WorkOrder.id)
            )
        else:
            states = lifecycle.OPEN if not done else lifecycle.END_STATES | {lifecycle.CLOSED, lifecycle.VISITED}
            query = (select(*LIST_COLUMNS).where(WorkOrder.status.in_(sorted(states)))
                     .order_by(WorkOrder.due_at.asc().nulls_last(), WorkOrder.id))
        return await self._page(query, actor, departments, page)

    async def search(self, actor: Actor, departments: dict[int, str], text: str = "", number: str = "",
                     status: str = "", page: int = 0) -> Page:
        """By order number or citizen phone (exact), status, and words in the content or address."""
        conditions = []
        if number:
            conditions.append(or_(WorkOrder.number == number, WorkOrder.caller_number == number))
        if status:
            conditions.append(WorkOrder.status == status)
        if text:
            if len(text) > 100:
                raise BadOrder("search text is at most 100 characters", field="q")
            # A department's own orders are few enough to test with the LIKE; the bigram lookup, which computes
            # every candidate row's bigrams when the planner starts from the department, made it slower there.
            conditions.append(self._text_condition(text, bigrams=not actor.in_department))
        if not conditions:
            raise BadOrder("search by number, phone, status or words", field="q")
        if actor.in_department:
            mine = select(OrderDepartment.order_id).where(OrderDepartment.department_id == actor.department_id)
            conditions.append(WorkOrder.id.in_(mine))
            if number:  # a department may not look citizens up by phone number: only by order number
                conditions.append(WorkOrder.number == number)
        query = select(*LIST_COLUMNS).where(and_(*conditions)).order_by(WorkOrder.id.desc())
        return await self._page(query, actor, departments, page)

    def _text_condition(self, text: str, bigrams: bool) -> Any:
        """The text in the content or the address. On PostgreSQL a two-character text is looked up among the
        texts' bigrams (migration 0011): the same rows as the LIKE, but indexed, which pg_trgm cannot do."""
        if bigrams and len(text) == 2 and self.engine.dialect.name == "postgresql":
            wanted = func.hotline_bigrams(text)
            return or_(*(func.hotline_bigrams(column, type_=BIGRAMS).contains(wanted)
                         for column in (WorkOrder.content, WorkOrder.address)))
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return or_(WorkOrder.content.like(pattern, escape="\\"), WorkOrder.address.like(pattern, escape="\\"))

    async def _page(self, query: Any, actor: Actor, departments: dict[int, str], page: int) -> Page:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.limit(PAGE_SIZE + 1).offset(page * PAGE_SIZE))).all()
        return Page([summary(actor, row, departments) for row in rows[:PAGE_SIZE]], page, len(rows) > PAGE_SIZE)

    async def history(self, caller_number: str, limit: int = 10) -> list[Any]:
        """The caller's newest orders (the agent's screen-pop; the phone progress query)."""
        query = (select(*LIST_COLUMNS).where(WorkOrder.caller_number == caller_number)
                 .order_by(WorkOrder.id.desc()).limit(limit))
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

    async def possible_duplicates(self, now: datetime, days: int, caller_number: str | None = None,
                                  address: str | None = None, topic: str | None = None) -> list[dict[str, Any]]:
        """Open orders from the same number, at the same address or on the same topic and address lately:
        the agent sees them at intake, and merges (并单) or links rather than dispatching twice."""
        reasons = []
        if caller_number:
            reasons.append(("number", WorkOrder.caller_number == caller_number))
        if address and len(address.strip()) >= 4:
            reasons.append(("address", WorkOrder.address == address.strip()))
        if topic and address and len(address.strip()) >= 4:
            reasons.append(("topic", and_(WorkOrder.topic == topic, WorkOrder.address == address.strip())))
        found: dict[int, dict[str, Any]] = {}
        since = now - timedelta(days=days)
        async with self.engine.connect() as connection:
            for reason, condition in reasons:
                rows = (await connection.execute(select(*LIST_COLUMNS).where(
                    condition, WorkOrder.status.in_(sorted(lifecycle.OPEN - {lifecycle.DRAFT})),
                    WorkOrder.created_at >= since).order_by(WorkOrder.id.desc()).limit(10))).all()
                for row in rows:
                    entry = found.setdefault(row.id, {"id": row.id, "number": row.number, "status": row.status,
                                                      "topic": row.topic, "address": row.address,
                                                      "content": (row.content or "")[:100], "reasons": []})
                    entry["reasons"].append(reason)
        return list(found.values())

    async def notices(self, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
        """督办 notices for the actor: their department's, or for the centre the public notices and escalations."""
        query = (select(SupervisionEvent.step, SupervisionEvent.recipient, SupervisionEvent.sent_at,
                        SupervisionEvent.due_at, WorkOrder.id, WorkOrder.number)
                 .join(WorkOrder, WorkOrder.id == SupervisionEvent.order_id)
                 .order_by(SupervisionEvent.id.desc()).limit(limit))
        if actor.in_department:
            query = query.join(OrderDepartment, OrderDepartment.id == SupervisionEvent.order_department_id).where(
                OrderDepartment.department_id == actor.department_id)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [{"step": r.step, "recipient": r.recipient, "sent_at": _time(r.sent_at), "due_at": _time(r.due_at),
                 "order": r.id, "number": r.number} for r in rows]

    async def citizens_of(self, order_id: int) -> list[dict[str, Any]]:
        """Everyone owed the answer and the return visit of an order: its citizen and those of the orders
        merged into it (并单), each with their own order number."""
        query = (select(WorkOrder.id, WorkOrder.number, WorkOrder.caller_number, WorkOrder.citizen_name)
                 .where(or_(WorkOrder.id == order_id, WorkOrder.merged_into_id == order_id)).order_by(WorkOrder.id))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [{"order": r.id, "number": r.number, "caller_number": r.caller_number, "citizen_name": r.citizen_name}
                for r in rows if r.caller_number]

    async def count_open(self) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(WorkOrder).where(
                WorkOrder.status.in_(sorted(lifecycle.OPEN))))).scalar_one())


    @staticmethod
    def _event_data(actor: Actor, row: Any, stored: str | None, names: tuple[str, ...]) -> dict[str, Any]:
        """An event's data; the citizen's contact details only for the centre (they call and write back). Where
        the citizen is hidden from the actor, an edit of the name or number shows neither side, and the texts
        are masked like the order's."""
        data = dict(json.loads(stored)) if stored else {}
        if actor.in_centre:
            return data
        data = {k: v for k, v in data.items() if k not in CONTACT_DETAILS}
        if not citizen_hidden(actor, row.confidential, row.type):
            return data
        return {name: _hidden_value(actor, row, name, value, names) for name, value in data.items()}


CONTACT_DETAILS = frozenset({"email", "device_id", "account_id"})  # how an Open311 client reaches the citizen
PERSONAL_FIELDS = frozenset({"citizen_name", "caller_number"})  # hidden whole where the citizen is hidden
AUDIT_ACTIONS = ("view", "download")  # who looked: kept for the audit, not shown in the order's history


def former_names(events: Sequence[Any]) -> tuple[str, ...]:
    """Every name the order's citizen had, from the history's edits (a corrected name is masked too)."""
    names = []
    for event in events:
        if event.action == "edit" and event.data:
            change = json.loads(event.data).get("citizen_name") or {}
            names += [value for value in (change.get("from"), change.get("to")) if isinstance(value, str)]
    return tuple(names)


def _hidden_value(actor: Actor, row: Any, name: str, value: Any, names: tuple[str, ...]) -> Any:
    if name in PERSONAL_FIELDS:
        return {"from": HIDDEN, "to": HIDDEN} if isinstance(value, dict) else HIDDEN
    if isinstance(value, dict):
        return {k: citizen_text(actor, row, v, names) if isinstance(v, str) else v for k, v in value.items()}
    return citizen_text(actor, row, value, names) if isinstance(value, str) else value


def lifecycle_actions(actor: Actor, row: Any, departments_rows: list[Any]) -> list[str]:
    """The buttons to show: what the rules allow this role now (an assisting department: sign, then reply)."""
    mine = next((d for d in departments_rows if d.department_id == actor.department_id and not d.done), None)
    if actor.in_department and mine is not None and mine.role == "assisting":
        return assisting_actions(mine)
    if actor.in_department and mine is None:
        return []
    view = Loaded(row, departments_rows).rules_view()
    return lifecycle.allowed(view, LIFECYCLE_ROLE.get(actor.role, ""))
