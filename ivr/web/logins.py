"""The one log-in throttle (desk PIN, web password, phone *21) and the record of logged-out sessions, both in the
database so that every server sees the same counts and log-outs.

The rule (who is refused, how long) is routing/login_limits.py; docs/security.md, "Log-ins and sessions".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from aiohttp import web
from sqlalchemy import ColumnElement, and_, case, delete, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.agents.errors import TooLong, TooManyAttempts
from ivr.db.engine import upsert_insert
from ivr.db.limits import text_limits
from ivr.db.models import Agent, LoginFailure, RevokedSession, User, as_utc
from routing.login_limits import ADDRESS, LIMITS, Count, current, limit_of, lock_after, wait_seconds

logger = logging.getLogger(__name__)
T = TypeVar("T")


KEY_LENGTH = text_limits(LoginFailure)["key"]
AGENT_ID_LENGTH, USER_ID_LENGTH = text_limits(Agent)["id"], text_limits(User)["id"]
SECRET_LENGTH = 256  # the longest PIN or password looked at; PINs are 6 digits, generated passwords 16 characters
AGENT, USER = "agent", "user"  # the kinds of account
# Log-ins from one address wait for each other; more than this many at once (a whole centre behind one address
# logging in at the start of a shift stays well below) are refused with Retry-After: 1.
MAX_QUEUED_PER_ADDRESS = 32


def bounded(**fields: tuple[str, int]) -> None:
    """Refuses, before any work, a log-in field longer than its column (or than SECRET_LENGTH)."""
    too_long = {name: limit for name, (value, limit) in fields.items() if len(value) > limit}
    if too_long:
        raise TooLong("too long: " + ", ".join(f"{name} (at most {limit} characters)"
                                               for name, limit in too_long.items()), fields=",".join(too_long))


class _Turns:
    """One verification at a time per key on this server. Log-ins take the turn of their address, then of their
    account (always in that order, so no two wait for each other): a burst from one address, or at one account
    from many addresses, queues behind itself and not in front of everybody else's log-in. An entry lives only
    while someone holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def of(self, key: str, most_queued: int | None = None) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        if most_queued is not None and users >= most_queued:  # a flood, not people: an answer at once
            raise TooManyAttempts(1)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class LoginThrottle:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = upsert_insert(engine)
        self._turns = _Turns()

    async def attempt(self, kind: str, account: str, address: str, check: Callable[[], Awaitable[T | None]],
                      ) -> T | None:
        """What `check` finds (None: wrong credentials), counted; raises TooManyAttempts if the account or the
        address is locked for this address, without checking."""
        account, address = account[:KEY_LENGTH], address[:KEY_LENGTH]
        async with self._turns.of(f"{ADDRESS} {address}", MAX_QUEUED_PER_ADDRESS), self._turns.of(f"{kind} {account}"):
            wait = await self.wait(kind, account, address, datetime.now(UTC))
            if wait:
                raise TooManyAttempts(wait)
            found = await check()
            if found is None:
                await self._failed(kind, account, address, datetime.now(UTC))
            else:
                await self._succeeded(kind, account)
            return found

    async def wait(self, kind: str, account: str, address: str, now: datetime) -> int:
        """Seconds this address must wait before trying this account (0: it may try now)."""
        query = select(LoginFailure).where(or_(and_(LoginFailure.kind == kind, LoginFailure.key == account),
                                               and_(LoginFailure.kind == ADDRESS, LoginFailure.key == address)))
        async with self.engine.connect() as connection:
            rows = {row.kind: row for row in (await connection.execute(query)).all()}

        def count(row_kind: str) -> Count | None:
            row = rows.get(row_kind)
            if row is None:
                return None
            locked_until = as_utc(row.locked_until) if row.locked_until is not None else None
            found = Count(row.failures, as_utc(row.window_start), locked_until)
            return current(found, limit_of(row_kind), now)

        return wait_seconds(count(kind), count(ADDRESS), now)

    async def _failed(self, kind: str, account: str, address: str, now: datetime) -> None:
        async with self.engine.begin() as connection:
            for row_kind, key in ((kind, account), (ADDRESS, address)):
                limit = limit_of(row_kind)
                window_over = LoginFailure.window_start <= now - timedelta(seconds=limit.window_seconds)
                statement = self._insert(LoginFailure).values(kind=row_kind, key=key, window_start=now, failures=1)
                statement = statement.on_conflict_do_update(index_elements=["kind", "key"], set_={
                    "failures": case((window_over, 1), else_=LoginFailure.failures + 1),
                    "window_start": case((window_over, now), else_=LoginFailure.window_start),
                }).returning(LoginFailure.failures)
                failures = (await connection.execute(statement)).scalar_one()
                lock = lock_after(failures, limit)
                if lock:
                    await connection.execute(update(LoginFailure).where(
                        LoginFailure.kind == row_kind, LoginFailure.key == key).values(
                        locked_until=now + timedelta(seconds=lock)))
            await connection.execute(delete(LoginFailure).where(*_forgotten(now)))

    async def _succeeded(self, kind: str, account: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(delete(LoginFailure).where(LoginFailure.kind == kind,
                                                                LoginFailure.key == account))


def _forgotten(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Rows whose every window has passed and whose lock has ended: they tell nothing any more."""
    longest = max(limit.window_seconds for limit in LIMITS.values())
    return (LoginFailure.window_start <= now - timedelta(seconds=longest),
            or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until <= now))


class Revocations:
    """Sessions logged out before their cookie expired. Checked on every authenticated request (one primary-key
    read). With the database away, log-outs still work and are refused on this server; another server's are not
    until the database is back (the cookie's signature and expiry still hold)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._here: dict[str, datetime] = {}  # this server's log-outs until they expire

    async def revoke(self, session_id: str, expires: datetime) -> None:
        now = datetime.now(UTC)
        self._here = {sid: until for sid, until in self._here.items() if until > now}
        self._here[session_id] = expires
        statement = upsert_insert(self.engine)(RevokedSession).values(session_id=session_id, expires_at=expires)
        try:
            async with self.engine.begin() as connection:
                await connection.execute(statement.on_conflict_do_nothing(index_elements=["session_id"]))
                await connection.execute(delete(RevokedSession).where(RevokedSession.expires_at <= now))
        except (OperationalError, InterfaceError, OSError) as exc:  # the log-out still holds on this server
            logger.warning("log-out of session %s not recorded for the other servers: %s", session_id, exc)

    async def revoked(self, session_id: str) -> bool:
        if session_id in self._here:
            return True
        query = select(RevokedSession.session_id).where(RevokedSession.session_id == session_id)
        try:
            async with self.engine.connect() as connection:
                return (await connection.execute(query)).first() is not None
        except (OperationalError, InterfaceError, OSError) as exc:
            logger.debug("session revocations unreadable, taking the cookie's word: %s", exc)
            return False


@dataclass(frozen=True)
class Logins:
    throttle: LoginThrottle
    revocations: Revocations

    @classmethod
    def on(cls, engine: AsyncEngine) -> Logins:
        return cls(LoginThrottle(engine), Revocations(engine))


LOGINS = web.AppKey("logins", Logins)


def client_address(request: web.Request) -> str:
    """The address a web log-in is counted against (the proxy's X-Forwarded-For is read by ivr/web/proxies.py)."""
    return request.remote or "unknown"
