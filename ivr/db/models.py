"""Tables. Times are stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def as_utc(moment: datetime) -> datetime:
    """Times are stored in UTC; SQLite hands them back without a zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Call(Base):
    """One citizen's call to the hotline, from the first ring to the hang-up."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(64), index=True)
    dialled_number: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))  # the last queue joined
    line: Mapped[str | None] = mapped_column(String(64), index=True)  # the service line's queue
    intake: Mapped[str | None] = mapped_column(String(16))  # ivr (our FastAGI) or fallback (dialplan only)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    agent: Mapped[str | None] = mapped_column(String(64), index=True)  # the agent's id (工号)
    seat: Mapped[str | None] = mapped_column(String(16))  # the softphone endpoint that answered
    outcome: Mapped[str] = mapped_column(String(32), default="in_progress", index=True)
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    rating: Mapped[str | None] = mapped_column(String(32))  # 一次一评: satisfied, basically_satisfied, unsatisfied
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handoff: Mapped[str | None] = mapped_column(String(16))  # emergency hand-off: 110, 119, 120, 122
    handoff_by: Mapped[str | None] = mapped_column(String(32))
    handoff_mode: Mapped[str | None] = mapped_column(String(16))  # transfer, or conference (agent stays on)
    handoff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Agent(Base):
    """A person who answers calls. Logs in to a seat (softphone endpoint) with the id and a PIN."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 工号, digits so it can be keyed on a phone
    name: Mapped[str] = mapped_column(String(64))
    pin_hash: Mapped[str] = mapped_column(String(200))
    skills: Mapped[str] = mapped_column(String(200), default="general")  # comma-separated
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str] = mapped_column(String(16), default="agent")  # agent or supervisor
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AgentEvent(Base):
    """Log-in, log-out, pause and resume of an agent on a seat: the source of agent state and times."""

    __tablename__ = "agent_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    seat: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # login, logout, pause, resume
    reason: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Callback(Base):
    """A call back to a citizen: a missed call (漏接回拨), one per number per day."""

    __tablename__ = "callbacks"
    __table_args__ = (UniqueConstraint("number", "day", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # missed
    day: Mapped[str] = mapped_column(String(10))  # the centre's local date
    origin_uniqueid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending, dialling, answered, given_up
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_result: Mapped[str | None] = mapped_column(String(16))
    channel_uniqueid: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkOrder(Base):
    """A citizen's request (工单). For now only drafts from voicemail; dispatch and deadlines come next."""

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # draft, open, closed
    source: Mapped[str] = mapped_column(String(16))  # voicemail, phone
    caller_number: Mapped[str | None] = mapped_column(String(64), index=True)
    call_uniqueid: Mapped[str | None] = mapped_column(String(64), unique=True)
    audio_path: Mapped[str | None] = mapped_column(String(300))  # the recording, as the server sees it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    agent: Mapped[str | None] = mapped_column(String(32))  # who took it: a repeat caller is routed back to them
    content: Mapped[str | None] = mapped_column(Text)
