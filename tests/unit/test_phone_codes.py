"""The seat a feature code comes from is the authenticated endpoint in the channel name."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from ivr.agents.phone import seat_of
from ivr.fastagi import AgiCall


@pytest.mark.parametrize(("channel", "seat"), [("PJSIP/8001-00000012", "8001"), ("PJSIP/8040-0000a1b2", "8040")])
def test_seat_from_the_channel(channel: str, seat: str) -> None:
    call: Any = mock.create_autospec(AgiCall, instance=True)
    call.env = {"agi_channel": channel}
    assert seat_of(call) == seat
