"""Survey scripts and what a survey's end means for its order (issue 6): pure logic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.db.models import Survey
from ivr.surveys.outcomes import hangup_outcome, order_verdict
from routing import return_visits as visits
from routing.survey import MalformedReply
from routing.survey_scripts import SCRIPTS, answers_from_sms, prompts, rating_and_solved, wants_no_contact

RETURN_VISIT, EVALUATION = SCRIPTS["return_visit"], SCRIPTS["public_evaluation"]


@pytest.mark.parametrize(("text", "expected"), [
    ("12", {"solved": "yes", "rating": "satisfied"}),
    ("２，５", {"solved": "no", "rating": "very_dissatisfied"}),
    (" 1 3 ", {"solved": "yes", "rating": "basically_satisfied"}),
    ("已解决，非常满意", {"solved": "yes", "rating": "very_satisfied"}),
    ("没解决", {"solved": "no"}),
])
def test_a_return_visit_reply_by_digits_or_words(text: str, expected: dict[str, str]) -> None:
    assert answers_from_sms(RETURN_VISIT, text) == expected


@pytest.mark.parametrize("text", ["19", "123", "你好", "", "1"])
def test_a_reply_that_answers_nothing_says_what_was_expected(text: str) -> None:
    with pytest.raises(MalformedReply, match="expected|digits"):
        answers_from_sms(RETURN_VISIT if text != "1" else EVALUATION, text)


def test_an_evaluation_reply_is_one_digit_per_question() -> None:
    assert answers_from_sms(EVALUATION, "24") == {"service": "satisfied", "efficiency": "dissatisfied"}
    with pytest.raises(MalformedReply, match="service 1/2/3/4/5; efficiency"):
        answers_from_sms(EVALUATION, "满意")


def test_the_sms_lists_every_question_and_how_to_opt_out() -> None:
    text = RETURN_VISIT.sms_text("您反映的问题（工单20261130000001）已办结，请评价。")
    assert "第1位1已解决、2未解决" in text and "第2位1非常满意" in text and "TD退订" in text
    assert wants_no_contact(" TD ") and wants_no_contact("退订") and not wants_no_contact("12")


def test_every_script_question_has_a_prompt() -> None:
    names = prompts()
    for script in SCRIPTS.values():
        assert f"survey-{script.name}-intro" in names
        assert all(f"survey-{script.name}-{question.key}" in names for question in script.questions)


def test_rating_and_solved_come_from_the_script_questions() -> None:
    assert rating_and_solved(RETURN_VISIT, {"solved": "no", "rating": "dissatisfied"}) == ("dissatisfied", False)
    assert rating_and_solved(EVALUATION, {"service": "satisfied"}) == ("satisfied", None)


def _visit(status: str, rating: str | None, solved: bool | None = True) -> Survey:
    now = datetime.now(UTC)
    return Survey(status=status, rating=rating, solved=solved, number="13800138000", closed_at=now)


def test_one_dissatisfied_citizen_of_a_merged_order_makes_it_dissatisfied() -> None:
    verdict = order_verdict([_visit("answered", "very_satisfied"), _visit("answered", "dissatisfied", False),
                             _visit("unreachable", None)])
    assert verdict is not None
    satisfied, deciding = verdict
    assert not satisfied and (deciding.rating, deciding.solved) == ("dissatisfied", False)


def test_nobody_answered_means_no_verdict() -> None:
    assert order_verdict([_visit("unreachable", None), _visit("answered", None)]) is None
    assert order_verdict([_visit("answered", "basically_satisfied")]) is not None


@pytest.mark.parametrize(("cause", "outcome"), [("17", visits.BUSY), ("19", visits.NO_ANSWER),
                                                 ("16", visits.NO_ANSWER), ("38", visits.FAILED)])
def test_a_hang_up_cause_tells_busy_from_unanswered(cause: str, outcome: str) -> None:
    assert hangup_outcome(cause) == outcome
