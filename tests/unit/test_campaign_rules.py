"""A campaign's rules apart from the database: the first step by channel, state changes and why one is refused,
quotas as UNIT=N, an uploaded list in UTF-8 or GB 18030, and results per unit and question."""

from __future__ import annotations

import pytest

from routing import campaigns as rules
from routing.survey_scripts import SCRIPTS


def test_a_campaign_calls_first_when_it_phones_and_texts_first_when_it_only_texts() -> None:
    assert [rules.first_action(channels) for channels in rules.CHANNELS] == ["call", "call", "sms"]
    with pytest.raises(ValueError, match="unknown channels 'sms,phone'"):
        rules.first_action("sms,phone")


@pytest.mark.parametrize(("action", "status", "reason"), [
    ("start", "ready", None), ("start", "paused", None), ("pause", "running", None), ("resume", "paused", None),
    ("cancel", "ready", None), ("cancel", "running", None), ("cancel", "paused", None),
    ("start", "running", "the campaign is running already"),
    ("resume", "running", "the campaign is running already"),
    ("pause", "paused", "the campaign is paused already"),
    ("pause", "ready", "only a running campaign can be paused; this one is ready"),
    ("resume", "ready", "only a paused campaign can be resumed; this one is ready"),
    ("start", "finished", "the campaign is finished: nothing is left to start"),
    ("pause", "cancelled", "the campaign is cancelled: nothing is left to pause"),
    ("cancel", "finished", "the campaign is finished: nothing is left to cancel"),
    ("cancel", "cancelled", "the campaign is cancelled already"),
])
def test_each_action_is_allowed_from_some_states_and_refused_with_the_reason_from_the_others(
        action: str, status: str, reason: str | None) -> None:
    assert rules.refusal(action, status) == reason


def test_quotas_are_unit_equals_a_whole_number_of_answers_of_a_known_unit() -> None:
    assert rules.parse_quota(" urban = 50 ") == ("urban", 50)
    for bad, message in (("urban", "is not UNIT=N"), ("=5", "is not UNIT=N"), ("urban=0", "from 1 to"),
                         ("urban=-3", "from 1 to"), ("urban=lots", "from 1 to"), ("urban=2000000", "from 1 to")):
        with pytest.raises(rules.BadQuota, match=message):
            rules.parse_quota(bad)
    assert rules.check_quotas({"urban": 5, "water": "7"}, ["urban", "water"]) == {"urban": 5, "water": 7}
    with pytest.raises(rules.BadQuota, match="no unit 'roads' to set a quota for"):
        rules.check_quotas({"roads": 5}, ["urban"])
    with pytest.raises(rules.BadQuota, match="the quota of urban"):
        rules.check_quotas({"urban": True}, ["urban"])
    with pytest.raises(rules.BadQuota, match="the quota of urban"):
        rules.check_quotas({"urban": 2.5}, ["urban"])


def test_an_uploaded_list_is_read_as_utf8_with_or_without_bom_or_as_gb18030_from_excel() -> None:
    text = "号码,单位,姓名\n13800138000,urban,张三\n"
    assert rules.decode_list(text.encode("utf-8")) == text
    assert rules.decode_list(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert rules.decode_list(text.encode("gb18030")) == text
    with pytest.raises(ValueError, match="neither UTF-8 nor GB 18030"):
        rules.decode_list(b"\x81\x20\xff\xfe")


def test_results_count_every_choice_per_unit_and_for_all_units_with_the_satisfaction_rate() -> None:
    script = SCRIPTS["return_visit"]
    counts = {("urban", "solved", "yes"): 3, ("urban", "solved", "no"): 1, ("urban", "rating", "satisfied"): 2,
              ("urban", "rating", "very_dissatisfied"): 2, ("water", "rating", "basically_satisfied"): 1,
              ("water", "solved", "yes"): 1}
    results = {(r.unit, r.question): r for r in rules.question_results(script, ["urban", "water", "roads"], counts)}
    assert list(results) == [("urban", "solved"), ("urban", "rating"), ("water", "solved"), ("water", "rating"),
                             ("roads", "solved"), ("roads", "rating"), ("", "solved"), ("", "rating")]
    assert (results["urban", "solved"].counts, results["urban", "solved"].satisfaction) == (
        {"yes": 3, "no": 1}, None)
    assert results["urban", "rating"].answers == 4 and results["urban", "rating"].satisfaction == 0.5
    assert results["roads", "rating"].answers == 0 and results["roads", "rating"].satisfaction is None
    assert results["", "rating"].counts == {"very_satisfied": 0, "satisfied": 2, "basically_satisfied": 1,
                                            "dissatisfied": 0, "very_dissatisfied": 2}
    assert results["", "rating"].satisfaction == pytest.approx(0.6)
    assert results["", "solved"].answers == 5


def test_percent_and_labels() -> None:
    assert (rules.percent(2 / 3), rules.percent(None), rules.percent(1.0)) == ("66.7%", "", "100.0%")
    assert set(rules.SURVEY_LABELS) == {"due", "calling", "waiting_reply", "answered", "unreachable", "quota_met",
                                        "cancelled"}
    assert set(rules.STATUS_LABELS) == set(rules.STATUSES)
    every_answer = {a for script in SCRIPTS.values() for q in script.questions for a in q.choices.values()}
    assert every_answer <= set(rules.ANSWER_LABELS)
    assert {q.key for script in SCRIPTS.values() for q in script.questions} <= set(rules.QUESTION_LABELS)
