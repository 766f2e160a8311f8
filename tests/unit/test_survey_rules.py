"""Pure rules of issue 6: the survey's answers by SMS, what they lead to, the satisfaction rate; phone numbers
in one form; a campaign's number list with its bad rows."""

from __future__ import annotations

import pytest

from routing import survey
from routing.campaign_list import parse
from routing.numbers import BadNumber, is_mobile, normalise


@pytest.mark.parametrize(("reply", "solved", "rating"), [
    ("14", True, "dissatisfied"), ("1 4", True, "dissatisfied"), ("１，３", True, "basically_satisfied"),
    ("2,5", False, "very_dissatisfied"), ("已解决，非常满意", True, "very_satisfied"),
    ("问题没有解决，不满意！", False, "dissatisfied"), ("基本满意", None, "basically_satisfied"),
    ("还没解决", False, None),
])
def test_sms_replies_in_digits_or_words(reply: str, solved: bool | None, rating: str | None) -> None:
    assert survey.from_sms(reply) == survey.Answer(solved, rating)


@pytest.mark.parametrize("reply", ["", "ok", "36", "请再打给我", "1234"])
def test_a_reply_answering_nothing_says_what_was_expected(reply: str) -> None:
    with pytest.raises(survey.MalformedReply, match="expected two digits"):
        survey.from_sms(reply)


def test_what_an_answer_leads_to_and_the_satisfaction_rate() -> None:
    assert survey.consequence(survey.Answer(True, "basically_satisfied")) == "evaluate"
    assert survey.consequence(survey.Answer(False, "dissatisfied")) == "rehandle"
    assert survey.consequence(survey.Answer(True, "very_dissatisfied")) == "review"
    assert survey.consequence(survey.Answer(None, None)) == "evaluate"
    assert survey.satisfaction_rate({"very_satisfied": 50, "satisfied": 30, "basically_satisfied": 14,
                                     "dissatisfied": 4, "very_dissatisfied": 2}) == pytest.approx(0.94)
    assert survey.satisfaction_rate({}) is None


@pytest.mark.parametrize(("written", "national"), [
    ("+86 138-0013-8000", "13800138000"), ("0086 13800138000", "13800138000"), ("8613800138000", "13800138000"),
    ("１３８００１３８０００", "13800138000"), ("010-12345678", "01012345678"), ("(0755) 8765 4321", "075587654321"),
])
def test_numbers_compare_in_their_national_form(written: str, national: str) -> None:
    assert normalise(written) == national
    assert is_mobile(national) == national.startswith("1")


@pytest.mark.parametrize(("written", "problem"), [
    ("1380013800", "11-digit mobile"), ("12800138000", "11-digit mobile"), ("138a0013800", "more than digits"),
    ("12345", "mobile number"), ("0101234", "landline"),
])
def test_a_bad_number_says_what_is_wrong(written: str, problem: str) -> None:
    with pytest.raises(BadNumber, match=problem):
        normalise(written)


def test_a_campaign_list_imports_good_rows_and_reports_bad_ones_by_line() -> None:
    text = ("\ufeff号码,单位,姓名\n"
            "13800138001,urban,张三\n"
            "\n"
            "138-0013-8002,water\n"
            "not a number,urban\n"
            "13800138003,nowhere\n"
            "+86 13800138001,water\n"
            "13800138004\n"
            '"010-12345678","urban","李四"\n')
    parsed = parse(text, {"urban", "water"})
    assert [(row.line, row.number, row.unit, row.name) for row in parsed.rows] == [
        (2, "13800138001", "urban", "张三"), (4, "13800138002", "water", ""), (9, "01012345678", "urban", "李四")]
    assert [str(problem) for problem in parsed.problems] == [
        "line 5: 'not a number' holds more than digits",
        "line 6: no unit 'nowhere' in this campaign",
        "line 7: 13800138001 is already on line 2: called once",
        "line 8: expected at least two columns: number, unit",
    ]
