"""Tables. Times are stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
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


class Department(Base):
    """A unit orders are dispatched to: a municipal department, a district, a street office or a community."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # what the catalogue and the CLI name it by
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="municipal")  # municipal, district, street, community
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Base):
    """A person who logs in to the web with a password: department staff, department admins, administrators."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the login name
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))  # department_staff, department_admin, supervisor, administrator
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CatalogueEntry(Base):
    """A line of the dispatch catalogue (派单目录): the topic, its department and its time limits."""

    __tablename__ = "catalogue_entries"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)  # also the Open311 service_code
    topic: Mapped[str] = mapped_column(String(200))
    group: Mapped[str] = mapped_column(String(100), default="")
    department_code: Mapped[str] = mapped_column(String(64))
    keywords: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    days: Mapped[str] = mapped_column(Text, default="{}")  # JSON: working days per order type
    count_from: Mapped[str] = mapped_column(String(16), default="dispatch")  # dispatch or sign
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


OPEN_ORDERS = "status IN ('accepted', 'dispatched', 'draft', 'replied', 'returned', 'signed')"
LATE_ORDERS = "closed_at IS NULL OR closed_at > due_at"
# What the reports sum over a period's orders (ivr/reports/queries.py), carried in the period index (migration 0015)
# so that PostgreSQL reads the index alone, not a page of the table per dozen orders.
PERIOD_FIGURES = ["id", "status", "type", "source", "topic", "caller_number", "dispatched_at", "closed_at", "due_at",
                  "returns", "terms"]


class WorkOrder(Base):
    """A citizen's request (工单), from intake to the return visit. `status` is the lifecycle state."""

    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_number_history", "caller_number", "id"),
        Index("ix_work_orders_lead_inbox", "lead_department_id", "status", "due_at"),
        # The centre's inbox of open orders, soonest deadline first (migration 0010; PostgreSQL also has trigram
        # indexes on content and address there, and bigram indexes in 0011, for the search).
        Index("ix_work_orders_open_due", "due_at", "id", postgresql_where=text(OPEN_ORDERS),
              sqlite_where=text(OPEN_ORDERS)),
        # Reports read by period (migration 0015; it replaced 0014's ix_work_orders_created_at).
        Index("ix_work_orders_period", "created_at", postgresql_include=PERIOD_FIGURES),
        Index("ix_work_orders_terms_pending", "id", postgresql_where=text("terms IS NULL"),
              sqlite_where=text("terms IS NULL")),
        # The orders that were or are late, by deadline: the reports' overdue count (migration 0015).
        Index("ix_work_orders_late_due", "due_at", postgresql_include=["status"], postgresql_where=text(LATE_ORDERS),
              sqlite_where=text(LATE_ORDERS)),
        # The satisfaction rates join a period's return visits to their orders' lead department and agent
        # (ivr.surveys.results.rates): read from the index alone (migration 0015).
        Index("ix_work_orders_id_lead_agent", "id", postgresql_include=["lead_department_id", "agent"]),
        # The public Open311 list, newest first (migration 0016).
        Index("ix_work_orders_public", "created_at", postgresql_where=text("published"),
              sqlite_where=text("published")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)  # readable: local date + id
    status: Mapped[str] = mapped_column(String(16), index=True)  # routing.lifecycle states
    source: Mapped[str] = mapped_column(String(16))  # the channel: phone, voicemail, sms, web, api, mailbox
    caller_number: Mapped[str | None] = mapped_column(String(64))  # the citizen's phone
    citizen_name: Mapped[str | None] = mapped_column(String(100))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    type: Mapped[str] = mapped_column(String(16), default="consultation")  # routing.lifecycle.TYPES
    topic: Mapped[str | None] = mapped_column(String(32))  # catalogue code
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    call_uniqueid: Mapped[str | None] = mapped_column(String(64), unique=True)  # the call it was taken on
    audio_path: Mapped[str | None] = mapped_column(String(300))  # the recording, as the server sees it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agent: Mapped[str | None] = mapped_column(String(32))  # who took it: a repeat caller is routed back to them
    content: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)  # the lead department's answer
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returns: Mapped[int] = mapped_column(Integer, default=0)
    final_ruling: Mapped[bool] = mapped_column(Boolean, default=False)
    extension: Mapped[str] = mapped_column(String(16), default="none")
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    client: Mapped[str | None] = mapped_column(String(64))  # the Open311 client (API key name) that filed it
    terms: Mapped[str | None] = mapped_column(Text)  # the content's hot-topic terms (routing.hot_topics); None: not yet
    # On the public Open311 view (migration 0016): filed there by the citizen, or published by the centre; shown
    # under public_id, a random token, never under the sequential number.
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    public_id: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)


class Open311Posts(Base):
    """Open311 POSTs counted per client (API key) or source address in a fixed window: the rate limit, shared
    by every server (migration 0016). Windows that have ended are deleted by the next post."""

    __tablename__ = "open311_posts"

    bucket: Mapped[str] = mapped_column(String(100), primary_key=True)  # client:<name> or address:<ip>
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    posts: Mapped[int] = mapped_column(Integer)


class OrderDepartment(Base):
    """A department on an order: the lead (主办) or an assisting one (协办), each signing and replying."""

    __tablename__ = "order_departments"
    __table_args__ = (
        UniqueConstraint("order_id", "department_id"),
        Index("ix_order_departments_inbox", "department_id", "done", "due_at"),
        Index("ix_order_departments_department_order", "department_id", "order_id"),  # its search, newest first
        Index("ix_order_departments_dispatched_at", "dispatched_at"),  # the department assessment by period
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    role: Mapped[str] = mapped_column(String(16))  # lead or assisting
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reply: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # while a return was under review
    done: Mapped[bool] = mapped_column(Boolean, default=False)  # replied, or taken off the order


class OrderEvent(Base):
    """The order's history and audit trail: every change, and every view of a confidential order."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_action_at", "action", "at"),)  # e.g. the period's 重办 (reports)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))  # user or agent id, "system", or "api:<client>"
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))  # a lifecycle action, "create", "edit", "view", "attach"
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[str | None] = mapped_column(Text)  # JSON: reason code, legal basis, new deadline…


class OrderCall(Base):
    """The calls an order came from (the first, and the citizen's later calls about it)."""

    __tablename__ = "order_calls"
    __table_args__ = (UniqueConstraint("order_id", "call_uniqueid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    call_uniqueid: Mapped[str] = mapped_column(String(64), index=True)


class Attachment(Base):
    """A file on an order: the call's recording, a department's photo or document."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # recording, file
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(400))  # as the server sees it
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    added_by: Mapped[str] = mapped_column(String(64))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SupervisionEvent(Base):
    """A 督办 step sent: one per order, department, step and handling round (so the scheduler is idempotent)."""

    __tablename__ = "supervision_events"
    __table_args__ = (UniqueConstraint("order_department_id", "step", "round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_department_id: Mapped[int] = mapped_column(ForeignKey("order_departments.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))  # warning, reminder, notice, public, escalation
    round: Mapped[int] = mapped_column(Integer, default=0)  # re-handling (重办) starts a new round
    recipient: Mapped[str] = mapped_column(String(32))  # the role it goes to
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KnowledgeEntry(Base):
    """A knowledge-base answer for consultations (政策问答), owned and kept current by a department."""

    __tablename__ = "knowledge_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    topic: Mapped[str | None] = mapped_column(String(32))  # catalogue code
    source: Mapped[str] = mapped_column(String(300), default="")  # the document it rests on
    effective_on: Mapped[date | None] = mapped_column(Date)
    review_on: Mapped[date | None] = mapped_column(Date, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class KnowledgeUse(Base):
    """An answer given from the knowledge base: it makes a consultation count as resolved at first contact."""

    __tablename__ = "knowledge_uses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("knowledge_entries.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    agent: Mapped[str] = mapped_column(String(32))
    call_uniqueid: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))


class ApiKey(Base):
    """An Open311 client (a WeChat mini-program, an app, a city portal): only the key's hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TranscriptionJob(Base):
    """A voicemail waiting for its transcript, claimed by a worker under a lease (routing.transcription_jobs)."""

    __tablename__ = "transcription_jobs"
    __table_args__ = (Index("ix_transcription_jobs_due", "state", "not_before"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), unique=True)  # the voicemail's draft
    audio_path: Mapped[str] = mapped_column(String(400))
    state: Mapped[str] = mapped_column(String(16))  # queued, running, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)  # why the last attempt failed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Transcript(Base):
    """What the recogniser heard in a voicemail, and what the draft took from it: one per voicemail."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), unique=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("transcription_jobs.id"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[str] = mapped_column(Text)  # JSON: [[word, start s, end s, confidence], …]
    confidence: Mapped[float | None] = mapped_column(Float)  # the words' mean, None for silence
    audio_seconds: Mapped[float] = mapped_column(Float)
    decode_seconds: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(200))
    findings: Mapped[str] = mapped_column(Text)  # JSON: phone numbers, addresses, suggested type and topics
    worker: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Campaign(Base):
    """A survey campaign (issue 6): a number list per unit, a question script, quotas; started, paused, resumed."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    script: Mapped[str] = mapped_column(String(32))  # routing.survey_scripts.SCRIPTS
    channels: Mapped[str] = mapped_column(String(16))  # phone,sms | phone | sms: in this order
    status: Mapped[str] = mapped_column(String(16))  # ready, running, paused, finished
    quotas: Mapped[str] = mapped_column(Text)  # JSON: unit → answers wanted (absent: every number)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Survey(Base):
    """One citizen to ask: a return visit (回访) of a closed order, or a number of a campaign. Its state moves by
    conditional updates only, so no number is called or texted twice, even across a restart."""

    __tablename__ = "surveys"
    __table_args__ = (
        UniqueConstraint("order_id", "number", "round"),
        UniqueConstraint("campaign_id", "number"),
        Index("ix_surveys_due", "status", "next_at"),
        Index("ix_surveys_number_status", "number", "status"),
        # The period's return visits for the satisfaction rates, read from the index alone (migration 0015; it
        # replaced 0014's ix_surveys_answered_at).
        Index("ix_surveys_answered", "answered_at", postgresql_include=["order_id", "status", "rating", "appeal"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), index=True)  # a return visit
    round: Mapped[int] = mapped_column(Integer, default=1)  # the order's handling round (重办 makes another)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    unit: Mapped[str | None] = mapped_column(String(32))  # the campaign's unit (a department code)
    line: Mapped[int | None] = mapped_column(Integer)  # the campaign list's line
    number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(100))
    script: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # routing.survey_flow: held, due, calling, waiting_reply, …
    next_action: Mapped[str | None] = mapped_column(String(16))  # call, sms, wait_reply
    next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the order's closure (or the import)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    texted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_result: Mapped[str | None] = mapped_column(String(64))
    channel_uniqueid: Mapped[str | None] = mapped_column(String(64))  # the answered survey call
    answered_via: Mapped[str | None] = mapped_column(String(8))  # phone, sms
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    rating: Mapped[str | None] = mapped_column(String(32))  # routing.survey.RATINGS
    comment_path: Mapped[str | None] = mapped_column(String(400))  # the recorded comment, as the server sees it
    comment_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))  # its transcription draft
    reply_text: Mapped[str | None] = mapped_column(Text)  # the citizen's last SMS reply, as sent
    appeal: Mapped[str] = mapped_column(String(16), default="none")  # none, requested, upheld, rejected
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SurveyAnswer(Base):
    """One question's answer: results per unit and question are counted from these."""

    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("survey_id", "question"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    question: Mapped[str] = mapped_column(String(32))
    answer: Mapped[str] = mapped_column(String(32))


class SmsMessage(Base):
    """An SMS out (queued until Kannel takes it; its delivery report) or in (kept before it is handled)."""

    __tablename__ = "sms_messages"
    __table_args__ = (Index("ix_sms_messages_due", "direction", "status", "next_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # out, in
    number: Mapped[str] = mapped_column(String(32))  # the citizen's
    text: Mapped[str] = mapped_column(Text)
    # out: queued, sending, sent, delivered, failed, unknown; in: received, handled, rejected
    status: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))  # survey, clarify, ack, reply (in)
    # Makes a message once: "survey:<id>", "ack:<order id>", "in:<Kannel's id>".
    dedup_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parts: Mapped[int] = mapped_column(Integer, default=1)
    dlr: Mapped[str | None] = mapped_column(String(64))  # the last delivery report
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DoNotContact(Base):
    """A number never called nor texted for a survey (the citizen asked, or replied 退订)."""

    __tablename__ = "do_not_contact"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportRun(Base):
    """A report made by the schedule or on request, with the files it left in data_dir/reports/<id>/."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("kind", "label", "requested_by", name="uq_report_runs_kind_label_by"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # running, done, failed
    files: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float | None] = mapped_column(Float)


class LoginFailure(Base):
    """Failed log-ins of one account or from one address in the current window, and the lock they earned."""

    __tablename__ = "login_failures"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # agent, user or address
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # the agent id, user name, address or seat
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevokedSession(Base):
    """A web session logged out before it expired: its cookie is refused until then, and the row pruned after."""

    __tablename__ = "revoked_sessions"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
