"""What a column can hold, read from the model, so an edge can refuse a value before the database does: PostgreSQL
rejects a text longer than its varchar, a NUL character in any text and an integer beyond its 32-bit `integer` (SQLite
takes all three, so tests on SQLite alone never see the refusal)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import String, inspect

INT_MAX = 2**31 - 1  # PostgreSQL's integer: every id column and every count
NUL = "\x00"


def text_limits(model: type[Any]) -> dict[str, int]:
    """Every bounded text column of a model by its attribute name: {"citizen_name": 100, "address": 300, …}."""
    columns = inspect(model).columns
    return {name: column.type.length for name, column in columns.items()
            if isinstance(column.type, String) and column.type.length}


def check_lengths(data: Mapping[str, Any], limits: Mapping[str, int], error: Callable[..., Exception]) -> None:
    """Refuse the first text longer than its column (compared as stored: without surrounding spaces), naming the
    field and its limit."""
    for name, limit in limits.items():
        value = data.get(name)
        if isinstance(value, str) and len(value.strip()) > limit:
            raise error(f"{name} is {len(value.strip())} characters long; at most {limit} are kept", field=name,
                        limit=str(limit))


def check_storable(data: Mapping[str, Any], error: Callable[..., Exception]) -> None:
    """Refuse the first text with a NUL character and the first integer the database cannot hold, naming where."""
    stack: list[tuple[str, Any]] = list(data.items())[::-1]  # popped in the body's order
    while stack:
        path, value = stack.pop()
        if NUL in path:
            raise error("a field name contains a NUL character", field=path)
        if isinstance(value, str) and NUL in value:
            raise error(f"{path} contains a NUL character, which cannot be stored", field=path)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT_MAX:
            raise error(f"{path} is beyond the largest number that can be stored ({INT_MAX})", field=path)
        if isinstance(value, dict):
            stack.extend(reversed([(f"{path}.{key}", item) for key, item in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{index}]", item) for index, item in enumerate(value)]))
