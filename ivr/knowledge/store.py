"""The knowledge base in the database: search for agents, uses logged, entries kept by their departments.

Search ranks every entry in force in memory (`index`, kept in step with the table by `live`), then reads only
the entries shown: their text for the snippet, their department, their review date and uses as they are now.
The same on SQLite and PostgreSQL, with no extension and no segmenter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.db.models import CatalogueEntry, Department, KnowledgeEntry, KnowledgeUse, WorkOrder, as_utc
from ivr.knowledge import ranking
from ivr.knowledge.entries import EntryFields, parse_entry
from ivr.knowledge.errors import BadEntry, EntryNotFound
from ivr.knowledge.live import RECHECK_SECONDS, LiveIndex

COLUMNS = (KnowledgeEntry.id, KnowledgeEntry.title, KnowledgeEntry.body, KnowledgeEntry.keywords,
           KnowledgeEntry.department_id, KnowledgeEntry.topic, KnowledgeEntry.source, KnowledgeEntry.effective_on,
           KnowledgeEntry.review_on, KnowledgeEntry.active, KnowledgeEntry.updated_at,
           Department.name.label("department"))


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    snippet: str
    department: str | None
    topic: str | None
    source: str
    effective_on: date | None
    review_on: date | None
    stale: bool
    uses: int
    score: int

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "snippet": self.snippet, "department": self.department,
                "topic": self.topic, "source": self.source, "effective_on": _day(self.effective_on),
                "review_on": _day(self.review_on), "stale": self.stale, "uses": self.uses, "score": self.score}


class KnowledgeStore:
    def __init__(self, engine: AsyncEngine, review_warning_days: int,
                 recheck_seconds: float = RECHECK_SECONDS) -> None:
        self.engine = engine
        self.review_warning_days = review_warning_days
        self.index = LiveIndex(engine, recheck_seconds)

    async def close(self) -> None:
        await self.index.close()

    # Search and use, by the centre

    async def search(self, query: str, today: date, topic: str | None = None, limit: int = 10) -> list[Hit]:
        """Entries in force (active, effective today) that match the query, best first; with only a topic,
        that topic's entries by title."""
        query_terms, whole = ranking.terms(query), ranking.phrase(query)
        if not query_terms and not topic:
            return []
        ranked = (await self.index.current()).search(query_terms, whole, today, topic, limit)
        async with self.engine.connect() as connection:
            rows = {row.id: row for row in await self._shown(connection, [entry_id for _points, entry_id in ranked])}
        # Read now, not when indexed: an entry another process has just withdrawn is not shown.
        shown = [(points, rows[entry_id]) for points, entry_id in ranked
                 if entry_id in rows and ranking.in_force(rows[entry_id].active, rows[entry_id].effective_on, today)]
        return [Hit(row.id, row.title, ranking.snippet(row.body, query_terms, whole), row.department, row.topic,
                    row.source, row.effective_on, row.review_on,
                    ranking.review_state(row.review_on, today, 0) == ranking.STALE, row.uses, points)
                for points, row in shown]

    async def _shown(self, connection: AsyncConnection, entry_ids: list[int]) -> Sequence[Any]:
        if not entry_ids:
            return []
        uses = select(func.count()).where(KnowledgeUse.entry_id == KnowledgeEntry.id).scalar_subquery()
        return (await connection.execute(self._entries().add_columns(uses.label("uses"))
                                          .where(KnowledgeEntry.id.in_(entry_ids)))).all()

    async def record_use(self, entry_id: int, agent: str, now: datetime, call: str | None = None,
                         order: int | None = None) -> int:
        """Logs that an agent answered from the entry; the entry's uses so far."""
        async with self.engine.begin() as connection:
            active = (await connection.execute(select(KnowledgeEntry.active)
                                               .where(KnowledgeEntry.id == entry_id))).scalar_one_or_none()
            if not active:
                raise EntryNotFound(f"no active knowledge entry {entry_id}")
            if order is not None and (await connection.execute(
                    select(WorkOrder.id).where(WorkOrder.id == order))).first() is None:
                raise BadEntry(f"no work order {order}", field="order")
            await connection.execute(insert(KnowledgeUse).values(entry_id=entry_id, at=now, agent=agent,
                                                                 call_uniqueid=call, order_id=order))
            return (await _use_counts(connection, [entry_id]))[entry_id]

    # Entries, by their departments

    async def entry(self, entry_id: int, department_id: int | None, today: date) -> dict[str, Any]:
        """One entry in full; with a department, only that department's own (another's is not found)."""
        async with self.engine.connect() as connection:
            row = await self._own_row(connection, entry_id, department_id)
            uses = await _use_counts(connection, [entry_id])
        return self._view(row, today, uses.get(entry_id, 0))

    async def needing_review(self, department_id: int, today: date) -> list[dict[str, Any]]:
        """The department's active entries whose review date has passed or comes within the warning days."""
        horizon = today + timedelta(days=self.review_warning_days)
        statement = self._entries().where(KnowledgeEntry.department_id == department_id, KnowledgeEntry.active,
                                          KnowledgeEntry.review_on <= horizon)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement.order_by(KnowledgeEntry.review_on, KnowledgeEntry.id))).all()
            uses = await _use_counts(connection, [row.id for row in rows])
        return [self._view(row, today, uses.get(row.id, 0)) for row in rows]

    async def create(self, department_id: int, fields: EntryFields, now: datetime) -> int:
        async with self.engine.begin() as connection:
            await _check_topic(connection, fields.topic)
            result = await connection.execute(insert(KnowledgeEntry).values(
                **fields.row(), department_id=department_id, updated_at=now).returning(KnowledgeEntry.id))
            entry_id = int(result.scalar_one())
        await self.index.wrote([entry_id])
        return entry_id

    async def edit(self, entry_id: int, department_id: int, changes: Mapping[str, Any], now: datetime) -> None:
        """Changes the department's own entry: the fields given replace the stored ones."""
        async with self.engine.begin() as connection:
            row = await self._own_row(connection, entry_id, department_id)
            fields = parse_entry(changes, base=_fields(row))
            await _check_topic(connection, fields.topic)
            await connection.execute(update(KnowledgeEntry).where(KnowledgeEntry.id == entry_id)
                                     .values(**fields.row(), updated_at=now))
        await self.index.wrote([entry_id])

    async def import_entries(self, entries: Iterable[Mapping[str, Any]], now: datetime) -> tuple[int, int]:
        """Adds entries from a file, each naming its department by code; an entry whose department already has
        one with the same title replaces it (importing a file again changes nothing). (added, replaced)."""
        added, replaced = [], []
        async with self.engine.begin() as connection:
            codes = await connection.execute(select(Department.code, Department.id))
            departments = {code: department_id for code, department_id in codes}
            for number, entry in enumerate(entries, start=1):
                department_id, fields = _imported(number, entry, departments)
                await _check_topic(connection, fields.topic)
                existing = (await connection.execute(select(KnowledgeEntry.id).where(
                    KnowledgeEntry.department_id == department_id, KnowledgeEntry.title == fields.title))
                ).scalar_one_or_none()
                if existing is None:
                    added.append((await connection.execute(insert(KnowledgeEntry).values(
                        **fields.row(), department_id=department_id, updated_at=now).returning(KnowledgeEntry.id)
                    )).scalar_one())
                else:
                    await connection.execute(update(KnowledgeEntry).where(KnowledgeEntry.id == existing)
                                             .values(**fields.row(), updated_at=now))
                    replaced.append(existing)
        await self.index.wrote([*added, *replaced])
        return len(added), len(replaced)

    # Helpers

    @staticmethod
    def _entries() -> Any:
        return select(*COLUMNS).outerjoin(Department, Department.id == KnowledgeEntry.department_id)

    async def _own_row(self, connection: AsyncConnection, entry_id: int, department_id: int | None) -> Any:
        condition: ColumnElement[bool] = KnowledgeEntry.id == entry_id
        if department_id is not None:
            condition = and_(condition, KnowledgeEntry.department_id == department_id)
        row = (await connection.execute(self._entries().where(condition))).first()
        if row is None:
            raise EntryNotFound(f"no knowledge entry {entry_id}")
        return row

    def _view(self, row: Any, today: date, uses: int) -> dict[str, Any]:
        review = ranking.review_state(row.review_on, today, self.review_warning_days)
        return {"id": row.id, "title": row.title, "body": row.body,
                "keywords": [word for word in row.keywords.split(",") if word], "department": row.department,
                "department_id": row.department_id, "topic": row.topic, "source": row.source,
                "effective_on": _day(row.effective_on), "review_on": _day(row.review_on), "active": row.active,
                "updated_at": as_utc(row.updated_at).isoformat(), "review": review,
                "stale": review == ranking.STALE, "uses": uses}


def _fields(row: Any) -> EntryFields:
    return EntryFields(row.title, row.body, tuple(word for word in row.keywords.split(",") if word), row.topic,
                       row.source, row.effective_on, row.review_on, row.active)


def _imported(number: int, entry: Mapping[str, Any], departments: Mapping[str, int]) -> tuple[int, EntryFields]:
    if not isinstance(entry, Mapping):
        raise BadEntry(f"entry {number}: expected a table of fields, not {entry!r}")
    code = str(entry.get("department") or "")
    if code not in departments:
        raise BadEntry(f"entry {number}: no department {code!r} (give a department code)", field="department")
    try:
        return departments[code], parse_entry({k: v for k, v in entry.items() if k != "department"})
    except BadEntry as exc:
        raise BadEntry(f"entry {number}: {exc}", **exc.details) from None


async def _check_topic(connection: AsyncConnection, topic: str | None) -> None:
    if topic is not None and (await connection.execute(
            select(CatalogueEntry.code).where(CatalogueEntry.code == topic))).first() is None:
        raise BadEntry(f"topic {topic!r} is not a code of the dispatch catalogue", field="topic")


async def _use_counts(connection: AsyncConnection, entry_ids: list[int]) -> dict[int, int]:
    if not entry_ids:
        return {}
    rows = await connection.execute(select(KnowledgeUse.entry_id, func.count()).where(
        KnowledgeUse.entry_id.in_(entry_ids)).group_by(KnowledgeUse.entry_id))
    return {entry_id: count for entry_id, count in rows}


def _day(day: date | None) -> str | None:
    return day.isoformat() if day else None
