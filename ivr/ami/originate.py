"""The one way a call goes out: every AMI Originate (callbacks, return visits and campaigns, the emergency
hand-off's conference) is built here, and a number routing/dialable.py refuses never reaches Asterisk.

Citizens are dialled only if their number's kind is in `outbound.allowed_kinds`, through `outbound.endpoint`;
an emergency service only if it is one of `emergency.numbers`, through `emergency.endpoint`. The refusals are
counted for /metrics (hotline_outbound_refused_total) by purpose and kind.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ivr.ami.client import AmiClient
from ivr.settings import Settings
from routing import dialable

logger = logging.getLogger(__name__)
Purpose = Literal["callback", "survey", "handoff"]


class NotDialled(Exception):
    """The number is not one this purpose may dial; `kind` says why (routing.dialable.Kind)."""

    def __init__(self, number: str, purpose: str, kind: str) -> None:
        super().__init__(f"{purpose} to {number!r} not dialled: a number of kind {kind}")
        self.number = number
        self.kind = kind


@dataclass(frozen=True)
class OutboundCall:
    number: str
    purpose: Purpose
    context: str  # where the answered call continues in the dialplan
    caller_id: str
    ring_seconds: int
    exten: str = "s"
    variables: Mapping[str, str] = field(default_factory=dict)
    action_id: str | None = None  # ties the OriginateResponse to the call
    channel_id: str | None = None  # the channel's uniqueid, when its hang-up must be found by it


def refused_kind(settings: Settings, number: str, purpose: Purpose) -> str | None:
    """None if `purpose` may dial `number`, else the kind that stops it."""
    return _check(settings, number, purpose)[1]


def _check(settings: Settings, number: str, purpose: Purpose) -> tuple[str, str | None]:
    """(the digits to dial, the refusing kind or None)."""
    classified = dialable.classify(number, settings.outbound.area_code)
    if purpose == "handoff":
        return number, None if number in settings.emergency.numbers else classified.kind.value
    if dialable.allowed(classified, settings.outbound.allowed_kinds):
        return classified.digits, None
    return classified.digits, classified.kind.value


class Originator:
    def __init__(self, settings: Settings, ami: AmiClient) -> None:
        self.settings = settings
        self.ami = ami
        self.refused: collections.Counter[tuple[str, str]] = collections.Counter()  # (purpose, kind)

    def refuse(self, number: str, purpose: Purpose) -> str | None:
        """Like `refused_kind`, and a refusal is counted and logged."""
        kind = refused_kind(self.settings, number, purpose)
        if kind is not None:
            self.refused[purpose, kind] += 1
            logger.warning("%s to %r refused: a number of kind %s is never dialled", purpose, number, kind)
        return kind

    async def originate(self, call: OutboundCall) -> None:
        """Send the Originate; raises NotDialled for a refused number (nothing is sent) or an AmiError."""
        digits, kind = _check(self.settings, call.number, call.purpose)
        if kind is not None:
            self.refused[call.purpose, kind] += 1
            raise NotDialled(call.number, call.purpose, kind)
        endpoint = self.settings.emergency.endpoint if call.purpose == "handoff" else self.settings.outbound.endpoint
        action = {
            "Action": "Originate", "Channel": f"PJSIP/{digits}@{endpoint}", "Context": call.context,
            "Exten": call.exten, "Priority": "1", "Timeout": str(call.ring_seconds * 1000),
            "CallerID": call.caller_id, "Async": "true",
        }
        if call.variables:
            action["Variable"] = ",".join(f"{name}={value}" for name, value in call.variables.items())
        if call.action_id:
            action["ActionID"] = call.action_id
        if call.channel_id:
            action["ChannelId"] = call.channel_id
        await self.ami.action(action)
