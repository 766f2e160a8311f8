"""What a column can hold, read from the model, so an edge can refuse a value before the database does: PostgreSQL
rejects a text longer than its varchar, a NUL character in any text and an integer beyond its 32-bit `integer` (SQLite
takes all three, so tests on SQLite alone never see the refusal)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, inspect

INT_MAX = 2**31 - 1  # PostgreSQL's integer: every id column and every count


def text_limits(model: type[Any]) -> dict[str, int]:
    """Every bounded text column of a model by its attribute name: {"citizen_name": 100, "address": 300, …}."""
    columns = inspect(model).columns
    return {name: column.type.length for name, column in columns.items()
            if isinstance(column.type, String) and column.type.length}
