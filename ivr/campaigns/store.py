"""Survey campaigns in the database: a number list imported as one survey per number (in bulk, one
transaction), the campaign's state moved by conditional updates only, its progress per unit, its results per
unit and question, and the two CSV exports.

The dialer (ivr.surveys) asks the numbers of running campaigns; this store never calls nor texts anybody.
A list's problem lines are returned at the import and kept in `<problems_dir>/campaign-<id>.json` (the
schema of migration 0013 has no column for them), so that the page and the CLI show them later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.campaigns.errors import BadCampaign, CampaignNotFound, CampaignRefused
from ivr.db.models import Campaign, Department, DoNotContact, Survey, SurveyAnswer, as_utc
from ivr.settings import OutboundSettings
from ivr.surveys.store import CANCELLED as SURVEY_CANCELLED
from ivr.surveys.store import DUE, LIVE, WAITING_REPLY
from ivr.workorders.actors import mask_number
from routing import campaign_list, dialable, survey
from routing import campaigns as rules
from routing.campaign_list import Problem
from routing.numbers import is_mobile
from routing.survey_scripts import SCRIPTS, Script

logger = logging.getLogger(__name__)
CHUNK = 5_000  # surveys per INSERT of the import
UNIT_WIDTH = 32  # surveys.unit: a department code longer than this cannot be a campaign's unit
NAME_WIDTH = 100


@dataclass(frozen=True)
class NewCampaign:
    name: str
    script: str
    channels: str
    quotas: Mapping[str, object]  # unit → answers wanted; a unit left out: every number of it is asked
    created_by: str


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    script: str
    channels: str
    status: str
    quotas: dict[str, int]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def script_title(self) -> str:
        return SCRIPTS[self.script].title if self.script in SCRIPTS else self.script

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "script": self.script, "script_title": self.script_title,
                "channels": self.channels, "status": self.status, "quotas": self.quotas,
                "created_by": self.created_by, "created_at": _iso(self.created_at),
                "started_at": _iso(self.started_at), "finished_at": _iso(self.finished_at)}


@dataclass(frozen=True)
class Imported:
    campaign: CampaignRow
    imported: int
    problems: list[Problem]


@dataclass(frozen=True)
class UnitProgress:
    """One unit of a campaign ("" is every unit together): its numbers by survey status, how many were asked
    (called or texted at least once), answered, the quota and the satisfaction rate of the answers."""

    unit: str
    name: str
    numbers: int
    statuses: dict[str, int]
    asked: int
    answered: int
    quota: int | None
    satisfaction: float | None

    @property
    def target(self) -> int:
        """The answers the unit is after: its quota, or every number it has."""
        return self.quota if self.quota is not None else self.numbers

    @property
    def live(self) -> int:
        return sum(self.statuses.get(status, 0) for status in LIVE)

    def as_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "name": self.name, "numbers": self.numbers, "statuses": self.statuses,
                "asked": self.asked, "answered": self.answered, "quota": self.quota, "target": self.target,
                "live": self.live, "satisfaction": self.satisfaction}


@dataclass(frozen=True)
class Progress:
    campaign: CampaignRow
    units: list[UnitProgress]
    total: UnitProgress

    def as_json(self) -> dict[str, Any]:
        return {"campaign": self.campaign.as_json(), "units": [unit.as_json() for unit in self.units],
                "total": self.total.as_json()}


@dataclass
class _Tally:
    statuses: dict[str, int] = field(default_factory=dict)
    asked: int = 0
    ratings: dict[str, int] = field(default_factory=dict)

    def add(self, status: str, asked: bool, rating: str | None, count: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + count
        self.asked += count if asked else 0
        if rating and status == "answered":
            self.ratings[rating] = self.ratings.get(rating, 0) + count


class CampaignStore:
    def __init__(self, engine: AsyncEngine, problems_dir: Path, timezone: str = "Asia/Shanghai",
                 chunk: int = CHUNK, outbound: OutboundSettings | None = None) -> None:
        self.engine = engine
        self.outbound = outbound or OutboundSettings()  # numbers never called are problem lines
        self.problems_dir = problems_dir
        self.zone = ZoneInfo(timezone)
        self.chunk = chunk

    # Units

    async def units(self) -> dict[str, str]:
        """The units a campaign may survey: the active departments, code → name."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(Department.code, Department.name).where(Department.active).order_by(Department.code))).all()
        return {code: name for code, name in rows if len(code) <= UNIT_WIDTH}

    # Import

    async def create(self, new: NewCampaign, text: str, now: datetime) -> Imported:
        """A ready campaign with one due survey per good row of the list; the other rows come back as problems
        by line (and are kept). Raises BadCampaign for an unknown script, channel or unit, a bad quota, or a list
        with no number to ask."""
        name = new.name.strip()
        if not name or len(name) > NAME_WIDTH:
            raise BadCampaign(f"the campaign needs a name of 1 to {NAME_WIDTH} characters", field="name")
        if new.script not in SCRIPTS:
            raise BadCampaign(f"unknown script {new.script!r}: expected one of {', '.join(SCRIPTS)}", field="script")
        if new.channels not in rules.CHANNELS:
            raise BadCampaign(f"unknown channels {new.channels!r}: expected one of {', '.join(rules.CHANNELS)}",
                              field="channels")
        units = await self.units()
        try:
            quotas = rules.check_quotas(new.quotas, units)
        except rules.BadQuota as exc:
            raise BadCampaign(str(exc), field="quotas") from None
        parsed = await asyncio.to_thread(campaign_list.parse, text, units.keys())
        action = rules.first_action(new.channels)
        async with self.engine.begin() as connection:
            unwanted = set((await connection.execute(select(DoNotContact.number))).scalars().all())
            rows, problems = _reachable(parsed, new.channels, unwanted, self.outbound)
            if not rows:
                first = f"; the first: {problems[0]}" if problems else ""
                raise BadCampaign(f"the list has no number to ask ({len(problems)} problem line(s){first})",
                                  field="file")
            result = await connection.execute(insert(Campaign).values(
                name=name, script=new.script, channels=new.channels, status=rules.READY,
                quotas=json.dumps(quotas, ensure_ascii=False), created_by=new.created_by[:64], created_at=now))
            key = result.inserted_primary_key
            assert key is not None
            campaign_id = int(key[0])
            common = {"campaign_id": campaign_id, "round": 1, "script": new.script, "status": DUE,
                      "next_action": action, "next_at": now, "closed_at": now, "calls": 0, "texted": False,
                      "appeal": "none", "created_at": now, "updated_at": now}
            await self._insert_surveys(connection, common, rows)
        await self._keep_problems(campaign_id, problems)
        return Imported(await self.get(campaign_id), len(rows), problems)

    async def _insert_surveys(self, connection: AsyncConnection, common: Mapping[str, Any],
                              rows: list[campaign_list.Row]) -> None:
        """The list's surveys, in chunks, in the caller's transaction: on PostgreSQL by COPY, on SQLite by the
        driver's executemany (in its thread). The values shared by every row are converted once, not per row."""
        columns = [*common, "unit", "line", "number", "name"]
        postgresql = connection.dialect.name == "postgresql"
        shared = tuple(common.values()) if postgresql else tuple(
            _bound(connection, column, value) for column, value in common.items())
        statement = (f"INSERT INTO {Survey.__tablename__} ({', '.join(columns)}) "
                     f"VALUES ({', '.join('?' for _ in columns)})")
        for start in range(0, len(rows), self.chunk):
            records = [(*shared, row.unit, row.line, row.number, row.name[:NAME_WIDTH] or None)
                       for row in rows[start:start + self.chunk]]
            if postgresql:
                driver = (await connection.get_raw_connection()).driver_connection
                assert driver is not None
                await driver.copy_records_to_table(Survey.__tablename__, records=records, columns=columns)
            else:
                await connection.exec_driver_sql(statement, records)

    def problems(self, campaign_id: int) -> list[Problem]:
        """The problem lines of the campaign's list, as reported at its import."""
        path = self._problems_path(campaign_id)
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            logger.warning("campaign %s: its problem lines in %s cannot be read: %s", campaign_id, path, exc)
            return []
        return [Problem(int(item["line"]), str(item["problem"])) for item in kept]

    async def _keep_problems(self, campaign_id: int, problems: list[Problem]) -> None:
        path = self._problems_path(campaign_id)
        data = json.dumps([{"line": p.line, "problem": p.problem} for p in problems], ensure_ascii=False)
        try:
            await asyncio.to_thread(_write_atomically, path, data)
        except OSError as exc:  # the import stands; the problems were returned to whoever imported the list
            logger.warning("campaign %s: its %d problem line(s) could not be kept in %s: %s", campaign_id,
                           len(problems), path, exc)

    def _problems_path(self, campaign_id: int) -> Path:
        return self.problems_dir / f"campaign-{campaign_id}.json"

    # Reading

    async def get(self, campaign_id: int) -> CampaignRow:
        async with self.engine.connect() as connection:
            return await _campaign(connection, campaign_id)

    async def all(self) -> list[tuple[CampaignRow, dict[str, int]]]:
        """Every campaign, newest first, with its numbers' count by survey status."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(Campaign).order_by(Campaign.id.desc()))).all()
            counts = (await connection.execute(
                select(Survey.campaign_id, Survey.status, func.count())
                .where(Survey.campaign_id.is_not(None)).group_by(Survey.campaign_id, Survey.status))).all()
        by_campaign: dict[int, dict[str, int]] = {}
        for campaign_id, status, count in counts:
            if campaign_id is not None:
                by_campaign.setdefault(campaign_id, {})[status] = int(count)
        return [(_row(row), by_campaign.get(row.id, {})) for row in rows]

    async def progress(self, campaign_id: int) -> Progress:
        async with self.engine.connect() as connection:
            return await _progress(connection, await _campaign(connection, campaign_id))

    async def results(self, campaign_id: int) -> tuple[Script, list[rules.QuestionResult]]:
        """The answers per unit and question (then every unit together), counted, with the satisfaction rate."""
        async with self.engine.connect() as connection:
            campaign = await _campaign(connection, campaign_id)
            counts = await _answer_counts(connection, campaign_id)
            units = (await connection.execute(
                select(Survey.unit).where(Survey.campaign_id == campaign_id).distinct())).scalars().all()
        script = SCRIPTS[campaign.script]
        every_unit = sorted({unit or "" for unit in units} | set(campaign.quotas))
        return script, rules.question_results(script, every_unit, counts)

    async def results_csv(self, campaign_id: int) -> str:
        script, results = await self.results(campaign_id)
        return rules.results_csv(script, results, await self.unit_names())

    async def answers_csv(self, campaign_id: int) -> str:
        """Every number of the list by its line, masked (138****8000), with what happened and its answers."""
        async with self.engine.connect() as connection:
            campaign = await _campaign(connection, campaign_id)
            numbers = (await connection.execute(
                select(Survey.id, Survey.line, Survey.unit, Survey.number, Survey.status, Survey.calls, Survey.texted,
                       Survey.answered_via, Survey.answered_at)
                .where(Survey.campaign_id == campaign_id).order_by(Survey.line, Survey.id))).all()
            given = (await connection.execute(
                select(SurveyAnswer.survey_id, SurveyAnswer.question, SurveyAnswer.answer)
                .join(Survey, Survey.id == SurveyAnswer.survey_id).where(Survey.campaign_id == campaign_id))).all()
        answers: dict[int, dict[str, str]] = {}
        for survey_id, question, answer in given:
            answers.setdefault(survey_id, {})[question] = answer
        return rules.answers_csv(SCRIPTS[campaign.script], (
            rules.NumberAnswers(row.line, row.unit, mask_number(row.number) or "", row.status, row.calls,
                                bool(row.texted), row.answered_via, self._local(row.answered_at),
                                answers.get(row.id, {}))
            for row in numbers))

    async def snapshot(self, campaign_id: int) -> dict[str, Any]:
        """What the page shows of a campaign, as JSON: its state, progress per unit and results (read by every
        open page at least once a second: one connection, the results for the units the progress found)."""
        async with self.engine.connect() as connection:
            progress = await _progress(connection, await _campaign(connection, campaign_id))
            counts = await _answer_counts(connection, campaign_id)
        results = rules.question_results(SCRIPTS[progress.campaign.script], [unit.unit for unit in progress.units],
                                         counts)
        return {**progress.as_json(), "results": [result.as_json() for result in results]}

    async def unit_names(self) -> dict[str, str]:
        async with self.engine.connect() as connection:
            return dict((await connection.execute(select(Department.code, Department.name))).all())

    def _local(self, moment: datetime | None) -> str:
        return as_utc(moment).astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""

    # State

    async def start(self, campaign_id: int, now: datetime) -> CampaignRow:
        """ready or paused → running: the dialer asks its numbers from now on."""
        return await self.act(campaign_id, "start", now)

    async def pause(self, campaign_id: int, now: datetime) -> CampaignRow:
        """running → paused: the dialer takes none of its numbers; the calls in progress finish."""
        return await self.act(campaign_id, "pause", now)

    async def resume(self, campaign_id: int, now: datetime) -> CampaignRow:
        """paused → running."""
        return await self.act(campaign_id, "resume", now)

    async def cancel(self, campaign_id: int, now: datetime) -> CampaignRow:
        """→ cancelled: its numbers waiting to be called, texted or to reply are cancelled; a call in progress
        finishes (its answers are kept) and its number is cancelled then if it is left to ask."""
        return await self.act(campaign_id, "cancel", now)

    async def finish_if_done(self, campaign_id: int, now: datetime) -> bool:
        """A running campaign with no number left to ask (due, calling, waiting for a reply) is finished; True
        if it was finished now. Of a cancelled campaign, the numbers left by calls that ended since are
        cancelled."""
        async with self.engine.begin() as connection:
            status = (await connection.execute(
                select(Campaign.status).where(Campaign.id == campaign_id))).scalar_one_or_none()
            if status == rules.CANCELLED:  # final: nothing can make it run again meanwhile
                await _cancel_live(connection, campaign_id, now)
                return False
            return status == rules.RUNNING and await _finish_if_done(connection, campaign_id, now)

    async def act(self, campaign_id: int, action: str, now: datetime) -> CampaignRow:
        """start, pause, resume or cancel (routing.campaigns.MOVES), by one conditional update; CampaignRefused
        with the reason when the campaign's state does not allow it."""
        if action not in rules.MOVES:
            raise BadCampaign(f"no action {action!r}: expected one of {', '.join(rules.MOVES)}", field="action")
        allowed, target = rules.MOVES[action]
        async with self.engine.begin() as connection:
            values: dict[str, Any] = {"status": target}
            if target == rules.CANCELLED:
                values["finished_at"] = now
            moved = await connection.execute(
                update(Campaign).where(Campaign.id == campaign_id, Campaign.status.in_(allowed)).values(**values))
            if moved.rowcount != 1:
                status = (await connection.execute(
                    select(Campaign.status).where(Campaign.id == campaign_id))).scalar_one_or_none()
                if status is None:
                    raise CampaignNotFound(f"no campaign {campaign_id}")
                raise CampaignRefused(rules.refusal(action, status) or
                                      "the campaign changed meanwhile: reload it and try again", status=status)
            if target == rules.RUNNING:
                await connection.execute(update(Campaign).where(Campaign.id == campaign_id,
                                                                Campaign.started_at.is_(None)).values(started_at=now))
                await _finish_if_done(connection, campaign_id, now)  # its last calls ended while it was paused
            if target == rules.CANCELLED:
                await _cancel_live(connection, campaign_id, now)
            return await _campaign(connection, campaign_id)


async def _campaign(connection: AsyncConnection, campaign_id: int) -> CampaignRow:
    row = (await connection.execute(select(Campaign).where(Campaign.id == campaign_id))).first()
    if row is None:
        raise CampaignNotFound(f"no campaign {campaign_id}")
    return _row(row)


async def _progress(connection: AsyncConnection, campaign: CampaignRow) -> Progress:
    """Per unit (those with numbers and those with a quota, by code), then every unit together."""
    asked = case((or_(Survey.calls > 0, Survey.texted.is_(True)), 1), else_=0)
    rows = (await connection.execute(
        select(Survey.unit, Survey.status, asked, Survey.rating, func.count())
        .where(Survey.campaign_id == campaign.id).group_by(Survey.unit, Survey.status, asked, Survey.rating))).all()
    names = dict((await connection.execute(select(Department.code, Department.name))).all())
    tallies: dict[str, _Tally] = {unit: _Tally() for unit in campaign.quotas}
    total = _Tally()
    for unit, status, was_asked, rating, count in rows:
        for tally in (tallies.setdefault(unit or "", _Tally()), total):
            tally.add(status, bool(was_asked), rating, int(count))
    units = [_unit_progress(unit, names.get(unit, unit), tallies[unit], campaign.quotas.get(unit))
             for unit in sorted(tallies)]
    quotas = [unit.quota if unit.quota is not None else unit.numbers for unit in units]
    return Progress(campaign, units, _unit_progress("", "全部", total, sum(quotas) if campaign.quotas else None))


async def _answer_counts(connection: AsyncConnection, campaign_id: int) -> dict[tuple[str, str, str], int]:
    """(unit, question, answer) → how many of the campaign's numbers gave it."""
    rows = (await connection.execute(
        select(Survey.unit, SurveyAnswer.question, SurveyAnswer.answer, func.count())
        .join(Survey, Survey.id == SurveyAnswer.survey_id).where(Survey.campaign_id == campaign_id)
        .group_by(Survey.unit, SurveyAnswer.question, SurveyAnswer.answer))).all()
    return {(unit or "", question, answer): int(count) for unit, question, answer, count in rows}


async def _finish_if_done(connection: AsyncConnection, campaign_id: int, now: datetime) -> bool:
    left = exists().where(Survey.campaign_id == campaign_id, Survey.status.in_(LIVE))
    result = await connection.execute(
        update(Campaign).where(Campaign.id == campaign_id, Campaign.status == rules.RUNNING, ~left)
        .values(status=rules.FINISHED, finished_at=now))
    return bool(result.rowcount == 1)


async def _cancel_live(connection: AsyncConnection, campaign_id: int, now: datetime) -> None:
    """A cancelled campaign's numbers not in a call: cancelled (the dialer's conditional steps then skip them)."""
    await connection.execute(
        update(Survey).where(and_(Survey.campaign_id == campaign_id, Survey.status.in_((DUE, WAITING_REPLY))))
        .values(status=SURVEY_CANCELLED, next_action=None, next_at=None, last_result="campaign cancelled",
                updated_at=now))


def _reachable(parsed: campaign_list.Parsed, channels: str, unwanted: set[str],
               outbound: OutboundSettings) -> tuple[list[campaign_list.Row], list[Problem]]:
    """The rows a campaign can ask, and every problem by line: the list's own, a number the outbound rules
    never dial (routing/dialable.py), a number on the do-not-contact list, a landline in a campaign that only
    texts."""
    rows, problems = [], list(parsed.problems)
    for row in parsed.rows:
        kind = dialable.classify(row.number, outbound.area_code).kind
        if kind not in outbound.allowed_kinds:
            problems.append(Problem(row.line, f"{row.number} is not called: a number of kind {kind} (calls out go "
                                              f"to {', '.join(outbound.allowed_kinds)}: outbound.allowed_kinds)"))
        elif row.number in unwanted:
            problems.append(Problem(row.line, f"{row.number} asked not to be contacted (do-not-contact list)"))
        elif channels == "sms" and not is_mobile(row.number):
            problems.append(Problem(row.line, f"{row.number} is a landline: an SMS cannot reach it, and this "
                                              "campaign only texts"))
        else:
            rows.append(row)
    problems.sort(key=lambda problem: problem.line)
    return rows, problems


def _unit_progress(unit: str, name: str, tally: _Tally, quota: int | None) -> UnitProgress:
    return UnitProgress(unit, name, sum(tally.statuses.values()), dict(sorted(tally.statuses.items())), tally.asked,
                        tally.statuses.get("answered", 0), quota, survey.satisfaction_rate(tally.ratings))


def _row(row: Any) -> CampaignRow:
    return CampaignRow(row.id, row.name, row.script, row.channels, row.status,
                       rules.quotas_from(row.quotas),
                       row.created_by, as_utc(row.created_at), as_utc(row.started_at) if row.started_at else None,
                       as_utc(row.finished_at) if row.finished_at else None)


def _bound(connection: AsyncConnection, column: str, value: object) -> object:
    """A value as the dialect stores it in the surveys' column (SQLite: a time as text, a boolean as 0/1)."""
    process = Survey.__table__.c[column].type.bind_processor(connection.dialect)
    return process(value) if process else value


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _write_atomically(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)
