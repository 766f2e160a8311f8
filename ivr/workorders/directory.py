"""Departments (a hierarchy down to grassroots units), their users, and the dispatch catalogue, in the database."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.engine import upsert_insert
from ivr.db.models import CatalogueEntry, Department, User
from ivr.web.passwords import hash_off_loop, hash_password, needs_rehash, verify_off_loop
from ivr.workorders.actors import DEPARTMENT_ROLES, USER_ROLES, Actor
from ivr.workorders.errors import BadOrder
from routing.catalogue import DEFAULT_DAYS, Entry

DEPARTMENT_KINDS = ("municipal", "district", "street", "community", "enterprise")


@dataclass(frozen=True)
class DepartmentRow:
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None


class Directory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = upsert_insert(engine)

    # Departments

    async def add_department(self, code: str, name: str, kind: str = "municipal", parent: str | None = None) -> int:
        if kind not in DEPARTMENT_KINDS:
            raise BadOrder(f"unknown department kind {kind!r}: expected one of {', '.join(DEPARTMENT_KINDS)}")
        async with self.engine.begin() as connection:
            parent_id = None
            if parent:
                parent_id = (await connection.execute(select(Department.id).where(Department.code == parent))
                             ).scalar_one_or_none()
                if parent_id is None:
                    raise BadOrder(f"no department {parent!r} to put {code!r} under", field="parent")
            statement = self._insert(Department).values(code=code, name=name, kind=kind, parent_id=parent_id,
                                                        active=True)
            statement = statement.on_conflict_do_update(index_elements=["code"], set_={
                "name": name, "kind": kind, "parent_id": parent_id, "active": True})
            await connection.execute(statement)
            return int((await connection.execute(select(Department.id).where(Department.code == code))).scalar_one())

    async def departments(self) -> list[DepartmentRow]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(Department.id, Department.code, Department.name, Department.kind, Department.parent_id)
                .where(Department.active).order_by(Department.code))).all()
        return [DepartmentRow(*row) for row in rows]

    async def department_by_code(self, code: str) -> DepartmentRow | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                select(Department.id, Department.code, Department.name, Department.kind, Department.parent_id)
                .where(Department.code == code, Department.active))).first()
        return DepartmentRow(*row) if row else None

    async def is_within(self, department_id: int, ancestor_id: int) -> bool:
        """Whether the department is the ancestor or one of its units, however deep (street under district)."""
        parents = {d.id: d.parent_id for d in await self.departments()}
        current: int | None = department_id
        for _ in range(len(parents) + 1):  # a cycle in hand-edited data must not loop forever
            if current is None:
                return False
            if current == ancestor_id:
                return True
            current = parents.get(current)
        return False

    async def department_names(self) -> dict[int, str]:
        return {d.id: d.name for d in await self.departments()}

    # Users

    async def add_user(self, user_id: str, name: str, role: str, password: str, now: datetime,
                       department: str | None = None) -> None:
        if role not in USER_ROLES:
            raise BadOrder(f"unknown role {role!r}: expected one of {', '.join(USER_ROLES)}", field="role")
        department_id = None
        if role in DEPARTMENT_ROLES:
            found = await self.department_by_code(department or "")
            if found is None:
                raise BadOrder(f"a {role} belongs to a department: no department {department!r}", field="department")
            department_id = found.id
        statement = self._insert(User).values(id=user_id, name=name, role=role, department_id=department_id,
                                              password_hash=hash_password(password), active=True, created_at=now)
        statement = statement.on_conflict_do_update(index_elements=["id"], set_={
            "name": name, "role": role, "department_id": department_id,
            "password_hash": statement.excluded.password_hash, "active": True})
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    async def check_password(self, user_id: str, password: str) -> Actor | None:
        async with self.engine.connect() as connection:
            user = (await connection.execute(select(User).where(User.id == user_id, User.active))).first()
        # An unknown or inactive user costs the same verification time as a wrong password.
        if not await verify_off_loop(password, user.password_hash if user else None) or user is None:
            return None
        if needs_rehash(user.password_hash):
            rehashed = await hash_off_loop(password)
            async with self.engine.begin() as connection:
                await connection.execute(update(User).where(User.id == user_id).values(password_hash=rehashed))
        return Actor(user.id, user.role, user.department_id)

    async def actor(self, user_id: str) -> Actor | None:
        async with self.engine.connect() as connection:
            user = (await connection.execute(select(User).where(User.id == user_id, User.active))).first()
        return Actor(user.id, user.role, user.department_id) if user else None

    # The dispatch catalogue

    async def load_catalogue(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Adds or replaces entries (a TOML or JSON file's rows); each names a department by its code."""
        known = {d.code for d in await self.departments()}
        rows = [_catalogue_row(entry, known) for entry in entries]
        async with self.engine.begin() as connection:
            for row in rows:
                statement = self._insert(CatalogueEntry).values(**row)
                await connection.execute(statement.on_conflict_do_update(
                    index_elements=["code"], set_={k: v for k, v in row.items() if k != "code"}))
        return len(rows)

    async def catalogue(self) -> list[Entry]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(CatalogueEntry).where(CatalogueEntry.active)
                                             .order_by(CatalogueEntry.code))).all()
        return [Entry(row.code, row.topic, row.department_code,
                      tuple(k for k in row.keywords.split(",") if k), json.loads(row.days) or dict(DEFAULT_DAYS),
                      row.count_from, row.emergency) for row in rows]

    async def catalogue_groups(self) -> dict[str, str]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(CatalogueEntry.code, CatalogueEntry.group))).all()
        return {code: group for code, group in rows}


def _catalogue_row(entry: Mapping[str, Any], departments: set[str]) -> dict[str, Any]:
    code = str(entry.get("code") or "")
    if not code or not entry.get("topic"):
        raise BadOrder(f"a catalogue entry needs a code and a topic: {dict(entry)!r}", field="code")
    department = str(entry.get("department") or "")
    if department not in departments:
        raise BadOrder(f"catalogue entry {code}: no department {department!r}", field="department")
    days = {**DEFAULT_DAYS, **{str(k): int(v) for k, v in dict(entry.get("days") or {}).items()}}
    count_from = str(entry.get("count_from", "dispatch"))
    if count_from not in ("dispatch", "sign"):
        raise BadOrder(f"catalogue entry {code}: count_from is dispatch or sign, not {count_from!r}")
    keywords = entry.get("keywords") or []
    return {"code": code, "topic": str(entry["topic"]), "group": str(entry.get("group", "")),
            "department_code": department, "keywords": ",".join(str(k) for k in keywords),
            "days": json.dumps(days), "count_from": count_from, "emergency": bool(entry.get("emergency", False)),
            "active": True}
