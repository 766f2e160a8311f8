"""What anyone may read about a request (GET needs no key): its progress, never the citizen.

Only published orders are public: those a citizen filed through Open311, and those the centre published. They
are known by their random public id, never by the sequential order number (which would let anyone walk them
all). Lists never show a draft (nobody at the centre has read it yet) nor a discarded one; the citizen who filed
a draft follows it by its id. Confidential orders and 举报 (reports) are not shown at all: not in lists, and "not
found" by id, so that nobody can learn a report was made. The citizen's name and phone are never part of a
public request, and the text shown has every phone number, ID number and name in it masked (routing.masking).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from ivr.db.models import CatalogueEntry, Department, OrderEvent, WorkOrder, as_utc
from ivr.open311.errors import BadField
from routing import lifecycle
from routing.masking import mask_text

# The spec knows two statuses; a request is closed once the centre has finished with it.
CLOSED_STATES = frozenset({lifecycle.CLOSED, lifecycle.VISITED, lifecycle.EVALUATED, lifecycle.MERGED,
                           lifecycle.DISCARDED})
STATES_OF = {"open": sorted(lifecycle.OPEN), "closed": sorted(CLOSED_STATES)}
NOTICES = {
    lifecycle.DRAFT: "已收到，待话务员核实受理",
    lifecycle.ACCEPTED: "已受理，待派单",
    lifecycle.DISPATCHED: "已派至承办单位",
    lifecycle.SIGNED: "承办单位已签收，正在办理",
    lifecycle.RETURNED: "中心正在重新确定承办单位",
    lifecycle.REPLIED: "承办单位已答复，中心正在审核",
    lifecycle.CLOSED: "已办结",
    lifecycle.VISITED: "已办结，已回访",
    lifecycle.EVALUATED: "已办结，已回访",
    lifecycle.MERGED: "已与同一诉求合并办理",
    lifecycle.DISCARDED: "未形成诉求",
}
WINDOW = timedelta(days=90)  # the spec's default range, and the widest one asked for
PAGE_SIZE, MAX_PAGE_SIZE, MAX_IDS, MAX_PAGE = 50, 100, 100, 10_000
FIRST_YEAR, LAST_YEAR = 2000, 2100  # dates outside cannot be an order's, and would overflow the window's sums
UNLISTED = (lifecycle.DRAFT, lifecycle.DISCARDED)  # followed by their id, never listed


@dataclass(frozen=True)
class RequestFilter:
    ids: tuple[str, ...] = ()  # public ids; when given, every other condition is ignored (the spec)
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    page_size: int = PAGE_SIZE


def parse_filter(query: Mapping[str, str], now: datetime) -> RequestFilter:
    for name, value in query.items():
        refuse_nul(name, value)
    ids = _list(query, "service_request_id")
    if len(ids) > MAX_IDS:
        raise BadField(f"service_request_id lists at most {MAX_IDS} requests")
    if ids:
        return RequestFilter(ids=ids, page_size=MAX_IDS)
    statuses = _list(query, "status")
    unknown = set(statuses) - set(STATES_OF)
    if unknown:
        raise BadField(f"status is open or closed, not {', '.join(sorted(unknown))}")
    start, end = _window(_moment(query, "start_date"), _moment(query, "end_date"), now)
    return RequestFilter(service_codes=_list(query, "service_code"), statuses=statuses, start=start, end=end,
                         page=_whole(query, "page", 1, MAX_PAGE), page_size=_whole(query, "page_size", PAGE_SIZE,
                                                                               MAX_PAGE_SIZE))


def refuse_nul(name: str, value: str) -> None:
    """A NUL character is in no request's text, and the database refuses it in one."""
    if "\x00" in name or "\x00" in value:
        raise BadField(f"{name[:40]!r} contains a NUL character")


def _list(query: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in query.get(name, "").split(",") if part.strip())


def _moment(query: Mapping[str, str], name: str) -> datetime | None:
    text = query.get(name, "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadField(f"{name} must be an ISO 8601 time such as 2026-11-24T08:00:00+08:00") from None
    if moment.tzinfo is None:
        raise BadField(f"{name} needs a time zone (e.g. +08:00 or Z): {text[:40]!r} has none")
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise BadField(f"{name} must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return moment.astimezone(UTC)  # SQLite compares stored UTC times as text: the bounds must be UTC too


def _window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The spec: the most recent 90 days by default; a range given on one side reaches 90 days to the other."""
    if start is None and end is None:
        return now - WINDOW, now
    if start is None:
        assert end is not None
        return end - WINDOW, end
    if end is None:
        return start, start + WINDOW
    if start > end:
        raise BadField("start_date is after end_date")
    if end - start > WINDOW:
        raise BadField(f"start_date to end_date spans more than {WINDOW.days} days")
    return start, end


def _whole(query: Mapping[str, str], name: str, default: int, most: int) -> int:
    text = query.get(name, "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9 or not 1 <= int(text) <= most:
        raise BadField(f"{name} must be a whole number from 1 to {most}")
    return int(text)


class PublicRequests:
    def __init__(self, engine: AsyncEngine, timezone: str) -> None:
        self.engine = engine
        self.zone = ZoneInfo(timezone)

    async def find(self, wanted: RequestFilter) -> list[dict[str, Any]]:
        """Newest first."""
        query = _public_query()
        if wanted.ids:
            query = query.where(WorkOrder.public_id.in_(wanted.ids))
        else:
            assert wanted.start is not None and wanted.end is not None
            query = query.where(WorkOrder.created_at >= wanted.start, WorkOrder.created_at <= wanted.end,
                                WorkOrder.status.not_in(UNLISTED))
            if wanted.service_codes:
                query = query.where(WorkOrder.topic.in_(wanted.service_codes))
            if wanted.statuses:
                query = query.where(WorkOrder.status.in_([s for name in wanted.statuses for s in STATES_OF[name]]))
        query = (query.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
                 .limit(wanted.page_size).offset((wanted.page - 1) * wanted.page_size))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            media = await _media_urls(connection, [row.id for row in rows])
        return [self._shown(row, media.get(row.id)) for row in rows]

    async def one(self, public_id: str) -> dict[str, Any] | None:
        found = await self.find(RequestFilter(ids=(public_id,), page_size=1))
        return found[0] if found else None

    def _shown(self, row: Any, media_url: str | None) -> dict[str, Any]:
        """The spec's fields, in its order; nothing about the citizen, and the texts masked."""
        names = (row.citizen_name,)
        return {
            "service_request_id": row.public_id,
            "status": "closed" if row.status in CLOSED_STATES else "open",
            "status_notes": _status_notes(row, names),
            "service_name": row.service_name,
            "service_code": row.topic,
            "description": mask_text(row.content, names),
            "agency_responsible": row.agency,
            "service_notice": NOTICES.get(row.status),
            "requested_datetime": self._time(row.created_at),
            "updated_datetime": self._time(row.updated_at or row.created_at),
            "expected_datetime": self._time(row.due_at),
            "address": mask_text(row.address, names),
            "address_id": None,
            "zipcode": None,
            "lat": row.lat,
            "long": row.long,
            "media_url": media_url,
        }

    def _time(self, moment: datetime | None) -> str | None:
        return as_utc(moment).astimezone(self.zone).isoformat(timespec="seconds") if moment else None


def _public_query() -> Any:
    target = aliased(WorkOrder)
    return (
        select(WorkOrder.id, WorkOrder.public_id, WorkOrder.status, WorkOrder.topic, WorkOrder.content,
               WorkOrder.reply, WorkOrder.citizen_name, WorkOrder.address, WorkOrder.lat, WorkOrder.long,
               WorkOrder.created_at, WorkOrder.updated_at, WorkOrder.due_at, CatalogueEntry.topic.label("service_name"),
               Department.name.label("agency"), target.public_id.label("merged_into"),
               and_(target.published, target.confidential.is_(False), target.type != "report")
               .label("merged_into_public"))
        .outerjoin(CatalogueEntry, CatalogueEntry.code == WorkOrder.topic)
        .outerjoin(Department, Department.id == WorkOrder.lead_department_id)
        .outerjoin(target, target.id == WorkOrder.merged_into_id)
        .where(WorkOrder.published.is_(True), WorkOrder.confidential.is_(False), WorkOrder.type != "report")
    )


def _status_notes(row: Any, names: tuple[str | None, ...]) -> str | None:
    if row.status == lifecycle.MERGED:  # the other request's id only if it is public itself
        return f"merged into {row.merged_into}" if row.merged_into_public else "merged into another request"
    if row.status == lifecycle.DISCARDED:
        return "not a request"
    return mask_text(row.reply, names) if row.status in CLOSED_STATES else None


async def _media_urls(connection: Any, order_ids: list[int]) -> dict[int, str]:
    """The photo a client linked when filing (kept on the order's create event)."""
    if not order_ids:
        return {}
    rows = (await connection.execute(select(OrderEvent.order_id, OrderEvent.data).where(
        OrderEvent.order_id.in_(order_ids), OrderEvent.action == "create", OrderEvent.data.is_not(None)))).all()
    urls = {order_id: json.loads(data).get("media_url") for order_id, data in rows}
    return {order_id: url for order_id, url in urls.items() if isinstance(url, str)}
