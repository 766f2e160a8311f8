"""Command-line administration of the work-order side: departments, web users, the directory file."""

from __future__ import annotations

import argparse
import asyncio
import json
import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ivr.db.engine import with_store
from ivr.settings import Settings
from ivr.web.passwords import new_password
from ivr.workorders.actors import USER_ROLES
from ivr.workorders.directory import DEPARTMENT_KINDS, Directory

T = TypeVar("T")
STARTER_DIRECTORY = Path(__file__).with_name("starter_directory.toml")
Command = Callable[[Any, str, str, Callable[[Settings, argparse.Namespace], int]], argparse.ArgumentParser]


def register(commands: Any, command: Command) -> None:
    department = commands.add_parser("department", help="departments orders go to").add_subparsers(title="actions")
    add = command(department, "add", "add or update a department", cmd_department_add)
    add.add_argument("code", help="a short stable code, e.g. urban or district.nanguan")
    add.add_argument("name")
    add.add_argument("--kind", default="municipal", choices=DEPARTMENT_KINDS)
    add.add_argument("--parent", help="the code of the department it belongs to")
    command(department, "list", "list the departments", cmd_department_list)
    user = commands.add_parser("user", help="web users: department staff, supervisors, administrators"
                               ).add_subparsers(title="actions")
    add = command(user, "add", "create a web user (or reset their password); prints the password once", cmd_user_add)
    add.add_argument("user_id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=USER_ROLES)
    add.add_argument("--department", help="the department's code (department roles)")
    directory = commands.add_parser("directory", help="departments and the dispatch catalogue from a file"
                                    ).add_subparsers(title="actions")
    load = command(directory, "load", "add or update departments and catalogue entries from a TOML or JSON file "
                   "([[departments]] code, name, kind, parent; [[entries]] code, topic, group, department, "
                   "keywords, days, count_from, emergency)", cmd_directory_load)
    load.add_argument("file", type=Path)


def cmd_department_add(settings: Settings, arguments: argparse.Namespace) -> int:
    _with_directory(settings, lambda d: d.add_department(arguments.code, arguments.name, arguments.kind,
                                                         arguments.parent))
    print(f"department {arguments.code}: {arguments.name}")
    return 0


def cmd_department_list(settings: Settings, _arguments: argparse.Namespace) -> int:
    for row in _with_directory(settings, lambda d: d.departments()):
        print(f"{row.code}\t{row.name}\t{row.kind}")
    return 0


def cmd_user_add(settings: Settings, arguments: argparse.Namespace) -> int:
    password = new_password()
    _with_directory(settings, lambda d: d.add_user(arguments.user_id, arguments.name, arguments.role, password,
                                                   datetime.now(UTC), arguments.department))
    print(f"[hotline] user {arguments.user_id} ({arguments.role}) ready; password {password} (shown only now)")
    return 0


def cmd_directory_load(settings: Settings, arguments: argparse.Namespace) -> int:
    departments, entries = _with_directory(settings, lambda d: load_directory(d, read_directory(arguments.file)))
    print(f"[hotline] {departments} department(s) and {entries} catalogue entries loaded from {arguments.file}")
    return 0


def read_directory(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected departments and entries tables")
    return data


async def load_directory(directory: Directory, data: dict[str, Any]) -> tuple[int, int]:
    """Departments first (parents before children, as listed), then the catalogue entries that name them."""
    departments = list(data.get("departments", []))
    for row in departments:
        await directory.add_department(str(row["code"]), str(row["name"]), str(row.get("kind", "municipal")),
                                       row.get("parent"))
    return len(departments), await directory.load_catalogue(data.get("entries", []))


async def first_directory(directory: Directory) -> tuple[str, str] | None:
    """A new hotline gets the starter directory and one department user, so that a newcomer can follow an
    order from the desk to a department; (user, password), or None when there was a directory already."""
    if await directory.departments():
        return None
    await load_directory(directory, read_directory(STARTER_DIRECTORY))
    password = new_password()
    await directory.add_user("urban.admin", "城管局管理员", "department_admin", password, datetime.now(UTC), "urban")
    return "urban.admin", password


def _with_directory(settings: Settings, use: Callable[[Directory], Awaitable[T]]) -> T:
    return asyncio.run(with_store(settings.database, Directory, use))


def set_up_first_directory(settings: Settings) -> tuple[str, str] | None:
    return _with_directory(settings, first_directory)
