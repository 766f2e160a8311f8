"""Open311 clients' API keys. Only the key's sha256 is stored: the key is shown once, when it is made."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.db.engine import upsert_insert
from ivr.db.models import ApiKey
from ivr.open311.errors import ApiKeyTaken, BadField


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, name: str, now: datetime) -> str:
        """A new key for the client `name` (a revoked client gets a fresh one); the key, to show once."""
        name = name.strip()
        if not name or len(name) > 64:
            raise BadField("an API key's name is 1 to 64 characters (the client: wechat, city-portal…)")
        key = secrets.token_urlsafe(32)
        statement = upsert_insert(self.engine)(ApiKey).values(name=name, key_hash=key_hash(key), active=True,
                                                            created_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"key_hash": statement.excluded.key_hash, "active": True,
                                           "created_at": now},
            where=ApiKey.active.is_(False))
        async with self.engine.begin() as connection:
            if (await connection.execute(statement)).rowcount != 1:
                raise ApiKeyTaken(f"client {name!r} has a live API key: revoke it first, or choose another name")
        return key

    async def revoke(self, name: str) -> bool:
        """False when there is no live key by that name."""
        async with self.engine.begin() as connection:
            result = await connection.execute(update(ApiKey).where(ApiKey.name == name, ApiKey.active)
                                              .values(active=False))
        return result.rowcount == 1

    async def client(self, key: str) -> str | None:
        """The name of the client whose live key this is."""
        async with self.engine.connect() as connection:
            return (await connection.execute(select(ApiKey.name).where(
                ApiKey.key_hash == key_hash(key), ApiKey.active))).scalar_one_or_none()

    async def all(self) -> list[tuple[str, bool, datetime]]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(ApiKey.name, ApiKey.active, ApiKey.created_at)
                                             .order_by(ApiKey.name))).all()
        return [(name, active, created) for name, active, created in rows]
