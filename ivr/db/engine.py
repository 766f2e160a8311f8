"""The async engine, the Alembic upgrade and a health probe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# What the database being away (stopped, restarting, unreachable) raises; TimeoutError is an OSError.
DATABASE_ERRORS = (SQLAlchemyError, OSError)

MIGRATIONS = Path(__file__).with_name("migrations")
S = TypeVar("S")
T = TypeVar("T")


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 5})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    # WAL lets the web pages read while the call recorder writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic, on the engine's own connection."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_sync, revision)


def _upgrade_sync(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def ping(engine: AsyncEngine, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout), engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


class SchemaOutdated(RuntimeError):
    """The database is not at the newest migration; `hotline db upgrade` brings it there."""


async def ensure_current(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        current, head = await connection.run_sync(_revisions)
    if current != head:
        raise SchemaOutdated(
            f"database schema is at {current or 'nothing'}, the code needs {head}: run 'hotline db upgrade'"
        )


def _revisions(connection: Connection) -> tuple[str | None, str | None]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    current = MigrationContext.configure(connection).get_current_revision()
    return current, ScriptDirectory.from_config(config).get_current_head()


async def with_store(url: str, make: Callable[[AsyncEngine], S], use: Callable[[S], Awaitable[T]]) -> T:
    """For the command line: a store on a database at the newest schema, used once, the engine then closed."""
    engine = create_engine(url)
    try:
        await ensure_current(engine)
        return await use(make(engine))
    finally:
        await engine.dispose()


def upsert_insert(engine: AsyncEngine) -> Callable[..., Any]:
    """The dialect's INSERT, which has ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
