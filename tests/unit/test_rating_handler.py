"""hotline-rating with a spec'd fake AgiCall: one key, one retry, stored on the call, always hung up."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, cast
from unittest import mock

import pytest

from ivr.calls.store import CallStore
from ivr.calls.tracker import CallTracker, Row
from ivr.fastagi import AgiCall, AgiHangup
from ivr.intake.context import CallContextFactory, Services
from ivr.rating.handlers import hotline_rating
from ivr.settings import Settings
from routing.rating import rating_for
from tests.unit.announced import announce

UID = "1700000000.7"
SOUNDS = PurePosixPath("/srv/hotline/x/sounds")


def flow(*keys: str) -> tuple[Any, Any, list[Row]]:
    rows: list[Row] = []
    tracker = CallTracker("12345", "citizens", rows.append)
    announce(tracker, UID)
    rows.clear()
    services = Services(Settings(), tracker, cast(CallStore, None), SOUNDS)
    call: Any = mock.create_autospec(AgiCall, instance=True)
    call.uniqueid = UID
    call.get_data.side_effect = list(keys)
    return call, CallContextFactory(services)(call), rows


async def test_a_valid_key_is_stored_thanked_and_hung_up() -> None:
    call, ctx, rows = flow("2")
    await hotline_rating(call, ctx)
    call.get_data.assert_awaited_once_with("/srv/hotline/x/sounds/rating", 5000, 1)
    call.stream_file.assert_awaited_once_with("/srv/hotline/x/sounds/rating-thanks")
    call.hangup.assert_awaited_once()
    assert rows[-1]["uniqueid"] == UID and rows[-1]["rating"] == "basically_satisfied" and "rated_at" in rows[-1]


async def test_no_key_or_a_wrong_key_is_asked_again_once() -> None:
    call, ctx, rows = flow("", "3")
    await hotline_rating(call, ctx)
    assert call.get_data.await_count == 2
    assert rows[-1]["rating"] == "unsatisfied"

    call, ctx, rows = flow("9", "")
    await hotline_rating(call, ctx)
    assert call.get_data.await_count == 2
    assert rows == [], "no rating stored when none was given"
    call.stream_file.assert_not_awaited()
    call.hangup.assert_awaited_once()


async def test_a_caller_who_hangs_up_instead_of_rating_stores_nothing() -> None:
    call, ctx, rows = flow()
    call.get_data.side_effect = AgiHangup("gone")
    with pytest.raises(AgiHangup):
        await hotline_rating(call, ctx)
    assert rows == []


@pytest.mark.parametrize(("keys", "rating"), [("1", "satisfied"), ("2", "basically_satisfied"),
                                              ("3", "unsatisfied"), ("4", None), ("", None), ("13", "satisfied")])
def test_rating_keys(keys: str, rating: str | None) -> None:
    assert rating_for(keys) == rating
