"""The migrations build exactly the tables the models describe (on SQLite and PostgreSQL): a column, index or
constraint added to one and not the other would show up here, not in production."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.models import Base

# PostgreSQL-only search indexes, not declared on the models: pg_trgm (migration 0010) and bigrams (0011).
POSTGRESQL_ONLY = {"ix_work_orders_content_trgm", "ix_work_orders_address_trgm", "ix_work_orders_content_bigrams",
                   "ix_work_orders_address_bigrams"}


def _declared(item: Any, name: str | None, kind: str, reflected: bool, _compared_to: Any) -> bool:
    return not (kind == "index" and reflected and name in POSTGRESQL_ONLY)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": _declared})
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_is_the_models_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []
