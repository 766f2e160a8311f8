"""The work order's closed loop, stored: intake, then every lifecycle action with its effects and history.

`routing.lifecycle` decides whether an action may be taken; this module loads the order, asks it, applies
the effects (departments on the order, deadlines, replies, returns, merges) and writes the change with its
event in one transaction. A write only lands if the order is still as it was read (`updated_at`), so two
people acting at once cannot both win: the second gets ChangedMeanwhile and reads again.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePath
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.db.models import Attachment, OrderCall, OrderDepartment, OrderEvent, WorkOrder, as_utc
from ivr.settings import WorkOrderSettings
from ivr.workorders.actors import AGENT, SUPERVISOR, Actor, citizen_hidden
from ivr.workorders.directory import Directory
from ivr.workorders.errors import ActionRefused, BadOrder, ChangedMeanwhile, Forbidden, OrderNotFound
from ivr.workorders.store import order_number
from routing import lifecycle
from routing.catalogue import DEFAULT_DAYS, Entry
from routing.deadlines import Pause, WorkCalendar, add_working_time, deadline, working_time_within

CHANNELS = ("phone", "voicemail", "sms", "web", "api", "mailbox")
LEAD, ASSISTING = "lead", "assisting"
# Where a role is not one the lifecycle knows (an administrator, an API client), it may take no action.
LIFECYCLE_ROLE = {"agent": lifecycle.AGENT, "supervisor": lifecycle.SUPERVISOR, "system": lifecycle.SYSTEM,
                  "department_staff": lifecycle.DEPARTMENT_STAFF, "department_admin": lifecycle.DEPARTMENT_ADMIN}


@dataclass(frozen=True)
class Intake:
    """What an order is filed with, from any channel."""

    channel: str
    content: str
    type: str = "consultation"
    caller_number: str | None = None
    citizen_name: str | None = None
    confidential: bool = False
    topic: str | None = None
    address: str | None = None
    lat: float | None = None
    long: float | None = None
    call_uniqueid: str | None = None
    audio_path: str | None = None
    client: str | None = None
    accepted: bool = True  # False: a draft for an agent to check (voicemail, SMS, the web)
    published: bool = False  # on the public Open311 view (the citizen filed it there), under a random public id
    # What a channel sends that has no column (an Open311 client's e-mail, device id, photo URL): kept on the
    # "create" event, so the agent checking the draft sees it.
    details: Mapping[str, str] = field(default_factory=dict)

    def check(self, catalogue_codes: set[str]) -> None:
        if self.channel not in CHANNELS:
            raise BadOrder(f"unknown channel {self.channel!r}", field="channel")
        if self.type not in lifecycle.TYPES:
            raise BadOrder(f"unknown order type {self.type!r}: expected one of {', '.join(lifecycle.TYPES)}",
                           field="type")
        if self.topic is not None and self.topic not in catalogue_codes:
            raise BadOrder(f"no catalogue entry {self.topic!r}", field="topic")
        if not self.content.strip() and not self.audio_path:
            raise BadOrder("the request has no content", field="content")


@dataclass
class Loaded:
    """An order as read for an action: the row, its departments and the lifecycle's view of it."""

    row: Any
    departments: list[Any] = field(default_factory=list)

    def lead(self) -> Any:
        """The lead department's row (the current one after a re-dispatch)."""
        found = next((d for d in self.departments if d.role == LEAD and not d.done), None) or next(
            (d for d in reversed(self.departments) if d.role == LEAD), None)
        if found is None:
            raise ActionRefused(f"order {self.row.number} has no lead department yet")
        return found

    def of(self, department_id: int | None) -> Any | None:
        return next((d for d in self.departments if d.department_id == department_id and not d.done), None) or next(
            (d for d in self.departments if d.department_id == department_id), None)

    def rules_view(self) -> lifecycle.Order:
        pending = frozenset(str(d.department_id) for d in self.departments
                            if d.role == ASSISTING and not d.done)
        return lifecycle.Order(self.row.status, self.row.type, self.row.returns, self.row.final_ruling,
                               self.row.extension, pending, self.row.satisfied)


def calendar_of(settings: WorkOrderSettings) -> WorkCalendar:
    """The working-day calendar of deadlines and staffing: the settings' holidays and 调休 over the official one."""
    return WorkCalendar(frozenset(date.fromisoformat(d) for d in settings.holidays),
                        frozenset(date.fromisoformat(d) for d in settings.workdays))


class OrderService:
    def __init__(self, engine: AsyncEngine, directory: Directory, settings: WorkOrderSettings, timezone: str,
                 files: Path) -> None:
        self.engine = engine
        self.files = files  # attachments, one folder per order
        self.directory = directory
        self.settings = settings
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self.calendar = calendar_of(settings)

    # Intake

    async def create(self, intake: Intake, actor: Actor, now: datetime) -> WorkOrder:
        intake.check({entry.code for entry in await self.directory.catalogue()})
        status = lifecycle.ACCEPTED if intake.accepted else lifecycle.DRAFT
        values = {name: getattr(intake, name) for name in (
            "content", "type", "caller_number", "citizen_name", "confidential", "topic", "address", "lat", "long",
            "audio_path", "client", "published")}
        values["public_id"] = new_public_id() if intake.published else None
        # One call may bring several requests: calls are linked in order_calls. The column is the voicemail's
        # call, unique so that a voicemail reported twice makes one draft.
        values["call_uniqueid"] = intake.call_uniqueid if intake.channel == "voicemail" else None
        async with self.engine.begin() as connection:
            order_id, _number = await insert_order(
                connection, {"status": status, "source": intake.channel,
                             "agent": actor.id if actor.role == "agent" else None, **values},
                actor, now, self.zone, intake.details)
            if intake.call_uniqueid:
                await connection.execute(insert(OrderCall).values(order_id=order_id,
                                                                  call_uniqueid=intake.call_uniqueid))
            if intake.audio_path:
                await connection.execute(insert(Attachment).values(
                    order_id=order_id, kind="recording", name="recording.wav", path=intake.audio_path,
                    content_type="audio/wav", size=0, added_by=actor.name, added_at=now))
            row = (await connection.execute(select(WorkOrder).where(WorkOrder.id == order_id))).one()
        return WorkOrder(**row._asdict())

    # Actions

    async def act(self, order_id: int, action: str, actor: Actor, now: datetime,
                  params: Mapping[str, Any] | None = None) -> lifecycle.Order:
        params = params or {}
        loaded = await self.load(order_id, actor)
        if actor.in_department:
            mine = loaded.of(actor.department_id)
            if mine is None or (mine.done and mine.role == LEAD):
                raise ActionRefused(f"order {loaded.row.number} is no longer with your department", action=action)
            if mine.role == ASSISTING:
                return await self._assisting(loaded, action, actor, now, params)
        role = LIFECYCLE_ROLE.get(actor.role, "")
        before = loaded.rules_view()
        try:
            after = lifecycle.apply(before, action, role)
        except lifecycle.NotAllowed as refusal:
            raise ActionRefused(str(refusal), action=action, state=before.state) from None
        changes, effects = await self._effects(loaded, action, actor, now, params)
        changes = {"status": after.state, "returns": after.returns, "final_ruling": after.final_ruling,
                   "extension": after.extension, "satisfied": after.satisfied, "updated_at": now} | changes
        async with self.engine.begin() as connection:
            await self._write(connection, loaded, changes)
            for statement in effects:
                await connection.execute(statement)
            await record_event(connection, order_id, actor, action, before.state, after.state, now,
                              note=params.get("note"), data=_event_data(action, params))
        return after

    async def load(self, order_id: int, actor: Actor) -> Loaded:
        """The order if this actor may see it; OrderNotFound otherwise (a department never learns that
        another department's order exists)."""
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(WorkOrder).where(WorkOrder.id == order_id))).first()
            if row is None:
                raise OrderNotFound(f"no order {order_id}")
            departments = list((await connection.execute(
                select(OrderDepartment).where(OrderDepartment.order_id == order_id).order_by(OrderDepartment.id)
            )).all())
        loaded = Loaded(row, departments)
        if actor.in_department and loaded.of(actor.department_id) is None:
            raise OrderNotFound(f"no order {order_id}")
        if not (actor.in_centre or actor.in_department):
            raise OrderNotFound(f"no order {order_id}")
        return loaded

    async def _write(self, connection: AsyncConnection, loaded: Loaded, changes: Mapping[str, Any]) -> None:
        result = await connection.execute(
            update(WorkOrder).where(WorkOrder.id == loaded.row.id, WorkOrder.status == loaded.row.status,
                                    _same_time(loaded.row.updated_at)).values(**changes))
        if result.rowcount != 1:
            raise ChangedMeanwhile(f"order {loaded.row.number} was changed by someone else: reload it")

    async def edit(self, order_id: int, actor: Actor, now: datetime, fields: Mapping[str, Any]) -> list[str]:
        """The centre corrects an open order (a draft from the web, a transcribed voicemail): what changed, from
        what to what, goes into the history."""
        if not actor.in_centre or actor.role not in LIFECYCLE_ROLE:
            raise ActionRefused("orders are edited by the centre's agents and supervisors")
        loaded = await self.load(order_id, actor)
        if loaded.row.status not in lifecycle.OPEN:
            raise ActionRefused(f"order {loaded.row.number} is {loaded.row.status}: only open orders are edited")
        changes = _edits(fields, {entry.code for entry in await self.directory.catalogue()})
        changed = {name: value for name, value in changes.items() if getattr(loaded.row, name) != value}
        if not changed:
            return []
        async with self.engine.begin() as connection:
            # terms None: the term indexer (ivr/reports/terms.py) reads the new text for the hot topics.
            reindex = {"terms": None} if "content" in changed else {}
            await self._write(connection, loaded, {**changed, **reindex, "updated_at": now})
            await record_event(connection, order_id, actor, "edit", loaded.row.status, loaded.row.status, now,
                              data={name: {"from": getattr(loaded.row, name), "to": value}
                                    for name, value in changed.items()})
        return sorted(changed)

    async def publish(self, order_id: int, actor: Actor, now: datetime, public: bool) -> None:
        """The centre shows an order on the public Open311 view (masked, under a random id) or takes it off.
        A draft is read and accepted first; a confidential order or a 举报 is never shown."""
        if actor.role not in (AGENT, SUPERVISOR):
            raise ActionRefused("orders are published by the centre's agents and supervisors")
        loaded = await self.load(order_id, actor)
        row = loaded.row
        if public and (row.confidential or row.type == "report"):
            raise ActionRefused(f"order {row.number} is confidential or a report: it is never public")
        if public and row.status == lifecycle.DRAFT:
            raise ActionRefused(f"order {row.number} is a draft: accept it before publishing it")
        if row.published == public:
            return
        changes = {"published": public, "public_id": row.public_id or new_public_id(), "updated_at": now}
        async with self.engine.begin() as connection:
            await self._write(connection, loaded, changes)
            await record_event(connection, order_id, actor, "publish" if public else "unpublish", row.status,
                              row.status, now)

    async def record(self, order_id: int, actor: Actor, action: str, now: datetime, note: str | None = None) -> None:
        """An event that changes nothing: a view of a confidential order (the audit trail), a citizen's progress
        query by phone; both show who looked at the order."""
        async with self.engine.begin() as connection:
            await record_event(connection, order_id, actor, action, None, None, now, note=note)

    async def attach(self, order_id: int, actor: Actor, name: str, content_type: str, data: bytes,
                     now: datetime) -> int:
        """A file on the order (a photo of the repair, a written reply); the department must be on the order."""
        loaded = await self.load(order_id, actor)
        if len(data) > self.settings.attachment_max_mb * 1024 * 1024:
            raise BadOrder(f"the file is over {self.settings.attachment_max_mb:g} MB", field="file")
        if not data:
            raise BadOrder("the file is empty", field="file")
        safe = "".join(c for c in PurePath(name).name if c.isalnum() or c in "._-（）()") or "file"
        path = self.files / str(order_id) / f"{uuid.uuid4().hex[:12]}-{safe[-100:]}"
        await asyncio.to_thread(_write_file, path, data)
        async with self.engine.begin() as connection:
            attachment_id = int((await connection.execute(insert(Attachment).values(
                order_id=order_id, kind="file", name=safe, path=str(path), content_type=content_type[:100],
                size=len(data), added_by=actor.name, department_id=actor.department_id, added_at=now,
            ).returning(Attachment.id))).scalar_one())
            await record_event(connection, order_id, actor, "attach", loaded.row.status, loaded.row.status, now,
                              note=safe)
        return attachment_id

    async def attachment(self, order_id: int, attachment_id: int, actor: Actor, now: datetime) -> Any:
        """A file of the order, for whoever may see the order; a recording (the citizen's voice) of a
        confidential order or a 举报 only for the centre. Every recording fetched, and every file of such an
        order, is audited (`download`), like a view of the order."""
        order = (await self.load(order_id, actor)).row
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(Attachment).where(
                Attachment.id == attachment_id, Attachment.order_id == order_id))).first()
        if row is None:
            raise OrderNotFound(f"no attachment {attachment_id} on order {order_id}")
        secret = order.confidential or order.type == "report"
        if row.kind == "recording" and citizen_hidden(actor, order.confidential, order.type):
            raise Forbidden(f"order {order.number} is confidential: its recording carries the citizen's voice and "
                            "is for the centre only")
        if row.kind == "recording" or secret:
            await self.record(order_id, actor, "download", now, note=row.name)
        return row

    # Effects of each action, beyond the state the rules compute

    async def _effects(self, loaded: Loaded, action: str, actor: Actor, now: datetime,
                       params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        handler = getattr(self, f"_on_{action}", None)
        return await handler(loaded, actor, now, params) if handler else ({}, [])

    async def _on_dispatch(self, loaded: Loaded, actor: Actor, now: datetime,
                           params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        topic = _text(params, "topic", required=False) or loaded.row.topic
        entry = await self._entry(topic)
        lead_code = _text(params, "department", required=False) or (entry.department if entry else "")
        if not lead_code:
            raise BadOrder("dispatch needs a department (or a topic whose catalogue entry names one)",
                           field="department")
        assisting = [str(code) for code in params.get("assisting") or [] if str(code) != lead_code]
        codes = {d.code: d.id for d in await self.directory.departments()}
        for code in [lead_code, *assisting]:
            if code not in codes:
                raise BadOrder(f"no department {code!r}", field="department")
        order_type = _text(params, "type", required=False) or loaded.row.type
        due = self._due(entry, order_type, now) if not entry or entry.count_from == "dispatch" else None
        rows = [(codes[lead_code], LEAD)] + [(codes[code], ASSISTING) for code in assisting]
        effects = [insert(OrderDepartment).values(order_id=loaded.row.id, department_id=department_id, role=role,
                                                  dispatched_at=now, due_at=due, paused_seconds=0.0, done=False)
                   for department_id, role in rows]
        return {"lead_department_id": codes[lead_code], "dispatched_at": now, "due_at": due, "topic": topic,
                "type": order_type}, effects

    async def _on_forward(self, loaded: Loaded, actor: Actor, now: datetime,
                          params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """转派 down the hierarchy: only to the acting department's own units, keeping the order's deadline."""
        old = loaded.lead()
        code = _text(params, "department")
        unit = await self.directory.department_by_code(code)
        if unit is None or unit.id == old.department_id or not await self.directory.is_within(unit.id,
                                                                                               old.department_id):
            raise BadOrder(f"转派 goes to one of your own units; {code!r} is not", field="department")
        return {"lead_department_id": unit.id}, [
            update(OrderDepartment).where(OrderDepartment.id == old.id).values(done=True),
            insert(OrderDepartment).values(order_id=loaded.row.id, department_id=unit.id, role=LEAD,
                                           dispatched_at=now, due_at=old.due_at, paused_seconds=0.0, done=False)]

    async def _on_sign(self, loaded: Loaded, actor: Actor, now: datetime,
                       params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        lead = loaded.lead()
        entry = await self._entry(loaded.row.topic)
        changes: dict[str, Any] = {}
        values: dict[str, Any] = {"signed_at": now}
        if entry is not None and entry.count_from == "sign" and lead.due_at is None:
            values["due_at"] = changes["due_at"] = self._due(entry, loaded.row.type, now)
        return changes, [update(OrderDepartment).where(OrderDepartment.id == lead.id).values(**values)]

    async def _on_return(self, loaded: Loaded, actor: Actor, now: datetime,
                         params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        _text(params, "reason_code")
        _text(params, "legal_basis")  # 法规 / 三定 / 权责清单: a return without one is not considered
        return {}, []

    async def _on_redispatch(self, loaded: Loaded, actor: Actor, now: datetime,
                             params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """改派: the return is accepted; the order goes to another department with a fresh deadline."""
        old = loaded.lead()
        code = _text(params, "department")
        department = await self.directory.department_by_code(code)
        if department is None:
            raise BadOrder(f"no department {code!r}", field="department")
        if department.id == old.department_id:
            raise BadOrder("改派 goes to another department; to send it back to the same one, reject the return",
                           field="department")
        entry = await self._entry(loaded.row.topic)
        due = self._due(entry, loaded.row.type, now) if not entry or entry.count_from == "dispatch" else None
        effects: list[Any] = [update(OrderDepartment).where(OrderDepartment.id == old.id).values(done=True)]
        existing = loaded.of(department.id)
        if existing is not None:  # it was assisting: it takes the lead
            effects.append(update(OrderDepartment).where(OrderDepartment.id == existing.id).values(
                role=LEAD, dispatched_at=now, signed_at=None, due_at=due, done=False))
        else:
            effects.append(insert(OrderDepartment).values(
                order_id=loaded.row.id, department_id=department.id, role=LEAD, dispatched_at=now, due_at=due,
                paused_seconds=0.0, done=False))
        return {"lead_department_id": department.id, "dispatched_at": now, "due_at": due}, effects

    async def _on_reject_return(self, loaded: Loaded, actor: Actor, now: datetime,
                                params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """The return is refused: the same department keeps it, and the review's time is added to its clock."""
        _text(params, "note")
        lead = loaded.lead()
        returned_at = await self._last_event_at(loaded.row.id, "return") or now
        paused = lead.paused_seconds + (now - returned_at).total_seconds()
        due = lead.due_at and add_working_time(
            as_utc(lead.due_at), working_time_within(Pause(returned_at, now), self.timezone, self.calendar),
            self.timezone, is_workday=self.calendar).astimezone(UTC)
        return {"due_at": due}, [update(OrderDepartment).where(OrderDepartment.id == lead.id).values(
            paused_seconds=paused, due_at=due)]

    async def _on_request_extension(self, loaded: Loaded, actor: Actor, now: datetime,
                                    params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        _text(params, "reason")
        _days(params, self.settings.extension_max_days)
        due = loaded.lead().due_at
        if due is not None and as_utc(due) <= now:
            raise ActionRefused("an extension is asked for before the deadline, and this one has passed")
        return {}, []

    async def _on_approve_extension(self, loaded: Loaded, actor: Actor, now: datetime,
                                    params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        request = await self._last_event_data(loaded.row.id, "request_extension")
        lead = loaded.lead()
        due = deadline(as_utc(lead.due_at or now), int(request.get("days", 1)), self.timezone,
                       is_workday=self.calendar).astimezone(UTC)
        return {"due_at": due}, [update(OrderDepartment).where(OrderDepartment.id == lead.id).values(due_at=due)]

    async def _on_reply(self, loaded: Loaded, actor: Actor, now: datetime,
                        params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        reply = _text(params, "reply")
        lead = loaded.lead()
        return {"reply": reply}, [update(OrderDepartment).where(OrderDepartment.id == lead.id).values(
            replied_at=now, reply=reply)]

    async def _on_send_back(self, loaded: Loaded, actor: Actor, now: datetime,
                            params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        _text(params, "note")  # what the reply leaves unanswered
        return {}, []

    async def _on_close(self, loaded: Loaded, actor: Actor, now: datetime,
                        params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        return {"closed_at": now}, [update(OrderDepartment).where(OrderDepartment.order_id == loaded.row.id)
                                    .values(done=True)]

    async def _on_close_at_intake(self, loaded: Loaded, actor: Actor, now: datetime,
                                  params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        return {"closed_at": now, "reply": _text(params, "reply")}, []

    async def _on_visit(self, loaded: Loaded, actor: Actor, now: datetime,
                        params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        satisfied = params.get("satisfied")
        if not isinstance(satisfied, bool):
            raise BadOrder("a return visit records whether the citizen is satisfied (true or false)",
                           field="satisfied")
        return {"satisfied": satisfied}, []

    async def _on_rehandle(self, loaded: Loaded, actor: Actor, now: datetime,
                           params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """重办: the lead department handles it again, with a fresh deadline; the visit comes again after."""
        lead = loaded.lead()
        due = self._due(await self._entry(loaded.row.topic), loaded.row.type, now)
        return {"due_at": due, "closed_at": None, "dispatched_at": now}, [
            update(OrderDepartment).where(OrderDepartment.id == lead.id).values(
                done=False, signed_at=None, replied_at=None, dispatched_at=now, due_at=due)]

    async def _on_merge(self, loaded: Loaded, actor: Actor, now: datetime,
                        params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """并单: this order follows another; its citizen still gets that order's answer and return visit."""
        target = await self.find(_text(params, "into"))
        if target is None or target.id == loaded.row.id:
            raise BadOrder("merge names another existing order (its number)", field="into")
        if target.status not in lifecycle.OPEN or target.merged_into_id is not None:
            raise BadOrder(f"order {target.number} is not open: merge into an open order", field="into")
        return {"merged_into_id": target.id}, [update(OrderDepartment).where(
            OrderDepartment.order_id == loaded.row.id).values(done=True)]

    async def _assisting(self, loaded: Loaded, action: str, actor: Actor, now: datetime,
                         params: Mapping[str, Any]) -> lifecycle.Order:
        """协办: an assisting department signs and replies on its own row; the lead closes for everyone."""
        mine: Any = loaded.of(actor.department_id)
        if action not in assisting_actions(mine):
            raise ActionRefused(f"{action} refused: an assisting department signs once, then replies once",
                                action=action)
        values: dict[str, Any] = ({"signed_at": now} if action == "sign" else
                                  {"replied_at": now, "reply": _text(params, "reply"), "done": True})
        async with self.engine.begin() as connection:
            await self._write(connection, loaded, {"updated_at": now})
            await connection.execute(update(OrderDepartment).where(OrderDepartment.id == mine.id).values(**values))
            await record_event(connection, loaded.row.id, actor, f"assist_{action}", loaded.row.status,
                              loaded.row.status, now, note=params.get("note"))
        return loaded.rules_view()

    # Helpers

    async def _entry(self, topic: str | None) -> Entry | None:
        if not topic:
            return None
        return next((entry for entry in await self.directory.catalogue() if entry.code == topic), None)

    def _due(self, entry: Entry | None, order_type: str, start: datetime) -> datetime:
        days = entry.working_days(order_type) if entry else DEFAULT_DAYS.get(order_type, 5)
        return deadline(start, days, self.timezone, is_workday=self.calendar).astimezone(UTC)

    async def find(self, number_or_id: str) -> WorkOrder | None:
        condition = WorkOrder.number == number_or_id
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(WorkOrder).where(condition))).first()
        return WorkOrder(**row._asdict()) if row else None

    async def _last_event_at(self, order_id: int, action: str) -> datetime | None:
        async with self.engine.connect() as connection:
            at = (await connection.execute(select(OrderEvent.at).where(
                OrderEvent.order_id == order_id, OrderEvent.action == action).order_by(OrderEvent.id.desc())
                .limit(1))).scalar_one_or_none()
        return as_utc(at) if at else None

    async def _last_event_data(self, order_id: int, action: str) -> dict[str, Any]:
        async with self.engine.connect() as connection:
            data = (await connection.execute(select(OrderEvent.data).where(
                OrderEvent.order_id == order_id, OrderEvent.action == action).order_by(OrderEvent.id.desc())
                .limit(1))).scalar_one_or_none()
        return dict(json.loads(data)) if data else {}


EDITABLE_TEXT = ("content", "address", "citizen_name")


def _edits(fields: Mapping[str, Any], catalogue_codes: set[str]) -> dict[str, Any]:
    unknown = set(fields) - {*EDITABLE_TEXT, "type", "topic", "confidential"}
    if unknown:
        raise BadOrder(f"these fields cannot be edited: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    changes: dict[str, Any] = {name: _text(fields, name, required=False) or None
                               for name in EDITABLE_TEXT if name in fields}
    if "type" in fields and fields["type"] not in lifecycle.TYPES:
        raise BadOrder(f"unknown order type {fields['type']!r}", field="type")
    if "topic" in fields and fields["topic"] is not None and fields["topic"] not in catalogue_codes:
        raise BadOrder(f"no catalogue entry {fields['topic']!r}", field="topic")
    if "confidential" in fields and not isinstance(fields["confidential"], bool):
        raise BadOrder("confidential is true or false", field="confidential")
    changes |= {name: fields[name] for name in ("type", "topic", "confidential") if name in fields}
    if "content" in changes and not changes["content"]:
        raise BadOrder("the request's content cannot be emptied", field="content")
    return changes


def assisting_actions(row: Any) -> list[str]:
    """An assisting department (协办) signs once, then replies once; then its part is done."""
    if row.done:
        return []
    return ["sign"] if row.signed_at is None else ["reply"]


def new_public_id() -> str:
    """An order's id on the public Open311 view: random (128 bits), so that no one can walk the orders."""
    return secrets.token_urlsafe(16)


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _same_time(stored: datetime | None) -> Any:
    return WorkOrder.updated_at.is_(None) if stored is None else WorkOrder.updated_at == stored


def _text(params: Mapping[str, Any], name: str, required: bool = True) -> str:
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadOrder(f"missing or empty: {name}", field=name)
        return ""
    if not isinstance(value, str):
        raise BadOrder(f"{name} must be text", field=name)
    return value.strip()


def _days(params: Mapping[str, Any], most: int) -> int:
    days = params.get("days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= most:
        raise BadOrder(f"days must be a whole number of working days from 1 to {most}", field="days")
    return days


EVENT_FIELDS = ("reason_code", "legal_basis", "reason", "days", "department", "assisting", "into", "satisfied",
                "topic", "knowledge_entry")


def _event_data(action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: params[name] for name in EVENT_FIELDS if name in params}


async def insert_order(connection: AsyncConnection, values: Mapping[str, Any], actor: Actor, now: datetime,
                       zone: ZoneInfo, data: Mapping[str, Any] | None = None) -> tuple[int, str]:
    """A new order (`values` hold its status) with its readable number and its "create" event, in the caller's
    transaction: (id, number)."""
    order_id = int((await connection.execute(
        insert(WorkOrder).values(created_at=now, updated_at=now, **values).returning(WorkOrder.id))).scalar_one())
    number = order_number(order_id, now, zone)
    await connection.execute(update(WorkOrder).where(WorkOrder.id == order_id).values(number=number))
    await record_event(connection, order_id, actor, "create", None, values["status"], now, data=data)
    return order_id, number


async def record_event(connection: AsyncConnection, order_id: int, actor: Actor, action: str,
                       from_state: str | None, to_state: str | None, now: datetime, note: str | None = None,
                       data: Mapping[str, Any] | None = None) -> None:
    """An entry in the order's history (order_events), in the caller's transaction."""
    await connection.execute(insert(OrderEvent).values(
        order_id=order_id, at=now, actor=actor.name, role=actor.role, action=action, from_state=from_state,
        to_state=to_state, department_id=actor.department_id, note=note,
        data=json.dumps(data, ensure_ascii=False) if data else None))
