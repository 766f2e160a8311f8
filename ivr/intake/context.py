"""What a call-flow handler gets besides the call: settings, services and a logger tagged with the call."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from ivr.agents.service import AgentService
from ivr.ami.queue_state import QueueState
from ivr.callbacks.store import CallbackStore
from ivr.calls.store import CallerHistory, CallStore
from ivr.calls.tracker import CallTracker
from ivr.db.models import WorkOrder
from ivr.fastagi import AgiCall
from ivr.lines import lines_of, relax_steps
from ivr.settings import Settings
from ivr.surveys.dialer import SurveyDialer
from ivr.voicemail.ingest import VoicemailIngester
from ivr.web.logins import LoginThrottle
from ivr.workorders.queries import OrderQueries
from ivr.workorders.service import OrderService
from ivr.workorders.store import WorkOrderStore
from routing.lines import Line, Relax

logger = logging.getLogger("ivr.callflow")


class CallLog(logging.LoggerAdapter[logging.Logger]):
    """Every call-path log line starts with the call's unique id."""

    def process(self, msg: object, kwargs: MutableMapping[str, Any]) -> tuple[object, MutableMapping[str, Any]]:
        return f"[{self.extra['uniqueid'] if self.extra else '-'}] {msg}", kwargs


@dataclass(frozen=True)
class Services:
    settings: Settings
    tracker: CallTracker
    store: CallStore
    sounds_dir: PurePosixPath  # as Asterisk sees it
    agents: AgentService | None = None  # for the seats' feature codes
    queue_state: QueueState | None = None  # for the waiting callers' announcements
    callbacks: CallbackStore | None = None  # for the callbacks they ask for
    work_orders: WorkOrderStore | None = None  # for a repeat caller's open order
    voicemail: VoicemailIngester | None = None  # takes recordings in as draft orders
    orders: OrderService | None = None  # for the progress query by phone
    order_queries: OrderQueries | None = None
    surveys: SurveyDialer | None = None  # the survey calls' questions and answers
    logins: LoginThrottle | None = None  # the phone log-in (*21) counts failures with the web log-ins

    # The routing rules as routing/ takes them, derived from the settings once, not on every call.
    @cached_property
    def lines(self) -> list[Line]:
        return lines_of(self.settings)

    @cached_property
    def relax(self) -> list[Relax]:
        return relax_steps(self.settings)

    @cached_property
    def line_keys(self) -> str:
        """The keys that pick a line during the greeting."""
        return "".join(line.key for line in self.lines)

    @cached_property
    def greeting_keys(self) -> str:
        """The keys that end the greeting: the lines' and the progress query's."""
        return self.line_keys + self.settings.routing.progress_key


@dataclass(frozen=True)
class CallContext:
    services: Services
    log: CallLog

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def prompt(self, name: str) -> str:
        return str(self.services.sounds_dir / name)

    async def caller_history(self, call: AgiCall) -> CallerHistory:
        return await self.services.store.caller_history(call.caller_number, datetime.now(UTC), call.uniqueid)

    async def open_order(self, call: AgiCall) -> WorkOrder | None:
        if self.services.work_orders is None:
            return None
        since = datetime.now(UTC) - timedelta(days=self.settings.routing.repeat_days)
        return await self.services.work_orders.latest_open(call.caller_number, since)


class CallContextFactory:
    def __init__(self, services: Services) -> None:
        self.services = services

    def __call__(self, call: AgiCall) -> CallContext:
        return CallContext(self.services, CallLog(logger, {"uniqueid": call.uniqueid}))
