"""routing.callbacks: when to dial, how many, what an attempt's result means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from ivr.ami.client import AmiClient
from ivr.callbacks.dialer import CallbackDialer
from ivr.callbacks.store import CallbackStore
from ivr.settings import CallbackSettings, Settings, SipSettings
from routing.callbacks import after_attempt, callback_day, dials_allowed

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("free", "waiting", "dialling", "allowed"),
    [(3, 0, 0, 3), (3, 0, 2, 1), (3, 1, 0, 0), (0, 0, 0, 0), (1, 0, 2, 0)],
)
def test_callbacks_never_outnumber_free_agents_nor_pass_waiting_callers(
    free: int, waiting: int, dialling: int, allowed: int
) -> None:
    assert dials_allowed(free, waiting, dialling) == allowed


def test_the_day_is_the_centres_local_day() -> None:
    assert callback_day(NOW, "Asia/Shanghai") == "2026-11-26", "17:00 UTC is 01:00 the next day in Beijing"
    assert callback_day(NOW, "UTC") == "2026-11-25"


def test_after_an_attempt() -> None:
    retry = timedelta(minutes=10)
    assert after_attempt("answered", 1, 3, NOW, retry) == ("answered", None)
    assert after_attempt("no_answer", 1, 3, NOW, retry) == ("pending", NOW + retry)
    assert after_attempt("busy", 3, 3, NOW, retry) == ("given_up", None)


@pytest.mark.parametrize(("contact", "dial", "enabled"), [("sip:203.0.113.10:5060", True, True),
                                                         ("sip:203.0.113.10:5060", False, False),
                                                         ("", True, False)])
def test_callbacks_are_dialled_only_with_a_carrier_and_dialling_on(contact: str, dial: bool, enabled: bool) -> None:
    settings = Settings(sip=SipSettings(carrier_contact=contact), callbacks=CallbackSettings(dial=dial))
    dialer = CallbackDialer(settings, cast(AmiClient, object()), cast(CallbackStore, object()))
    assert dialer.enabled is enabled
