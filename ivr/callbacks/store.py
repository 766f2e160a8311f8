"""Callback tasks in the database. Every change of status is a conditional update, so a task is
dialled once even if two workers (or a restarted one) look at it at the same time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from ivr.db.engine import upsert_insert
from ivr.db.models import Call, Callback, as_utc
from routing.callbacks import MISSED_OUTCOMES, NOT_DIALLED

SWEEP_PAGE = 500  # missed calls read at a time by the sweep


@dataclass(frozen=True)
class MissedCall:
    row_id: int  # the call's row: the sweep's next page starts after it
    uniqueid: str
    number: str
    at: datetime  # when it ended (or began): its callback counts for that day


@dataclass(frozen=True)
class StaleDial:
    """A callback left 'dialling' past the time its result should have come, and what its channel did."""

    callback_id: int
    attempts: int  # the attempt it was: settled only if still this one
    channel: str | None  # the attempt's channel uniqueid (None: claimed before channels were named)
    agent: str | None  # the agent who took it, if its AgentConnect was seen
    call_outcome: str | None  # the outcome of its channel's call row, if it reached the queue


class CallbackStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = upsert_insert(engine)
        # Built once, the values go as parameters: one per missed call, so it counts under load.
        self._add_missed = self._insert(Callback).on_conflict_do_nothing(index_elements=["number", "day", "reason"])

    async def add_missed(self, number: str, day: str, origin: str, now: datetime, refused: str | None = None) -> None:
        """One missed-call callback per number per day: a second missed call that day adds nothing. A number
        the outbound rules refuse (`refused`: its kind) is recorded as not dialled, with the kind as the reason."""
        values = {"number": number, "reason": "missed", "day": day, "origin_uniqueid": origin,
                  "status": NOT_DIALLED if refused else "pending", "last_result": refused,
                  "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now}
        async with self.engine.begin() as connection:
            await connection.execute(self._add_missed, values)

    async def add_requested(self, number: str, day: str, origin: str, place_since: datetime, now: datetime) -> None:
        """A callback the caller asked for, keeping their place: ordered by when they first queued.

        A request while one for the number is still open changes nothing (it will be dialled once); a
        request after today's earlier one was done opens it again. It is offered only to numbers the outbound
        rules would dial (ivr/intake/waiting.py); the dialer checks again before dialling.
        """
        statement = self._insert(Callback).values(
            number=number, reason="requested", day=day, origin_uniqueid=origin, status="pending", attempts=0,
            next_attempt_at=now, created_at=place_since, updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["number", "day", "reason"],
            set_={"status": "pending", "attempts": 0, "origin_uniqueid": origin, "created_at": place_since,
                  "next_attempt_at": now, "updated_at": now, "last_result": None},
            where=Callback.status.not_in(("pending", "dialling")),
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    async def missed_without_callback(self, since: datetime, after: int = 0) -> list[MissedCall]:
        """Missed calls since `since` that no callback for their number made after they began answers: their
        rows were written while their callback could not be (the database went away in between), or by the
        queue log's recovery without a number. A number's second missed call the same day is found again
        each time (its callback is the first's), which costs a no-op insert. At most SWEEP_PAGE, in the
        order of their rows, from the one after row `after`."""
        later = select(Callback.id).where(Callback.number == Call.caller_number,
                                          Callback.created_at >= Call.started_at)
        query = (
            select(Call.id, Call.uniqueid, Call.caller_number, Call.started_at, Call.ended_at)
            .where(Call.outcome.in_(MISSED_OUTCOMES), Call.started_at >= since, Call.id > after,
                   Call.caller_number.is_not(None), Call.caller_number != "", ~exists(later))
            .order_by(Call.id)
            .limit(SWEEP_PAGE)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        # started_at is set (the query compared it); ended_at only once the call is over
        return [MissedCall(row_id, uniqueid, str(number), as_utc(ended or started or since))
                for row_id, uniqueid, number, started, ended in rows]

    async def due(self, now: datetime, limit: int) -> list[Callback]:
        """Pending callbacks whose time has come, oldest first (they keep their order)."""
        query = (
            select(Callback)
            .where(Callback.status == "pending", Callback.next_attempt_at <= now)
            .order_by(Callback.created_at, Callback.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [Callback(**row._asdict()) for row in rows]

    async def claim(self, callback: Callback, channel: str, now: datetime) -> bool:
        """pending → dialling as its next attempt on `channel`; False if someone else took it first (or dialled
        it since it was read). The channel is stored now, so an agent who takes the call is recorded even if the
        Originate's response never arrives."""
        return await self._move(callback.id, "pending", now, Callback.attempts == callback.attempts,
                                status="dialling", attempts=Callback.attempts + 1, channel_uniqueid=channel)

    async def finish_attempt(self, callback_id: int, attempt: int, status: str, result: str,
                             next_attempt: datetime | None, now: datetime) -> bool:
        """dialling → `status` after attempt `attempt`; False if that attempt was settled already (by another
        server that found it stale, or by its late result): it is settled once."""
        values: dict[str, object] = {"status": status, "last_result": result}
        if next_attempt is not None:
            values["next_attempt_at"] = next_attempt
        return await self._move(callback_id, "dialling", now, Callback.attempts == attempt, **values)

    async def not_dialled(self, callback_id: int, kind: str, now: datetime, claimed: bool) -> bool:
        """pending (or, `claimed`, dialling) → not_dialled, its number's kind the reason; a claimed one was not
        an attempt after all."""
        if claimed:
            return await self._move(callback_id, "dialling", now, status=NOT_DIALLED, last_result=kind,
                                    attempts=Callback.attempts - 1)
        return await self._move(callback_id, "pending", now, status=NOT_DIALLED, last_result=kind)

    async def connected_to(self, channel: str, agent: str, now: datetime) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Callback).where(Callback.channel_uniqueid == channel).values(agent=agent, updated_at=now))

    async def get(self, callback_id: int) -> Callback | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(Callback).where(Callback.id == callback_id))).first()
        return Callback(**row._asdict()) if row else None

    async def of_day(self, day: str, limit: int) -> list[Callback]:
        """A day's callbacks (the centre's local day), oldest first."""
        query = select(Callback).where(Callback.day == day).order_by(Callback.created_at, Callback.id).limit(limit)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [Callback(**row._asdict()) for row in rows]

    async def for_number(self, number: str) -> list[Callback]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(Callback).where(Callback.number == number))).all()
        return [Callback(**row._asdict()) for row in rows]

    async def stale_dials(self, before: datetime, limit: int) -> list[StaleDial]:
        """Callbacks 'dialling' since before `before`, with what their channel's call row and AgentConnect say."""
        query = (
            select(Callback.id, Callback.attempts, Callback.channel_uniqueid, Callback.agent, Call.outcome)
            .outerjoin(Call, Call.uniqueid == Callback.channel_uniqueid)
            .where(Callback.status == "dialling", Callback.updated_at < before)
            .order_by(Callback.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [StaleDial(*row) for row in rows]

    async def _move(self, callback_id: int, expected: str, now: datetime, *conditions: ColumnElement[bool],
                    **values: object) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(Callback).where(Callback.id == callback_id, Callback.status == expected, *conditions)
                .values(updated_at=now, **values))
        return bool(result.rowcount == 1)
