"""Post-call rating (一次一评): the agent hangs up, the citizen stays on the line and presses one key."""

from __future__ import annotations

import pytest

from tests.helpers import Hotline, wait

pytestmark = pytest.mark.asterisk


@pytest.mark.parametrize(("digit", "rating"), [("1", "satisfied"), ("3", "unsatisfied")])
async def test_the_citizens_key_is_stored_against_the_call_and_the_agent(
    hotline: Hotline, digit: str, rating: str
) -> None:
    async with hotline.agent("8031", answers="agent_answers_then_hangs_up.xml") as softphone:
        finished = hotline.expect_finished_call()
        # About 10 s after the answer: greeting, ring, 2 s of talk, the agent's hang-up, the rating prompt.
        citizen = await hotline.citizen_call("12345", 10_000, scenario="citizen_rates.xml", digit=digit)
        assert citizen.process.returncode == 0, f"the hotline should hang up after the rating: {citizen.errors}"
        row = await wait(finished, 15, "the rated call did not reach the database", softphone)
    call = await hotline.stored_call(row["uniqueid"])
    assert (call.outcome, call.agent, call.rating) == ("answered", "1031", rating)
    assert call.rated_at is not None and call.answered_at is not None and call.rated_at > call.answered_at
