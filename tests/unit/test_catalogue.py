"""The dispatch catalogue: suggestions from the words of a request, deadlines per entry and type."""

from __future__ import annotations

from routing.catalogue import Entry, suggest, suggest_type

LIGHTS = Entry("0301", "路灯故障", "城管局", ("路灯不亮", "路灯", "灯"))
WATER = Entry("0501", "停水", "水务集团", ("停水", "没有水", "水管爆裂"), emergency=False)
BURST = Entry("0502", "供水管网爆裂", "水务集团", ("水管爆裂", "爆管"), emergency=True)
NOISE = Entry("0701", "施工噪音", "生态环境局", ("噪音", "施工"), days={"complaint": 3}, count_from="sign")
CATALOGUE = [LIGHTS, WATER, BURST, NOISE]


def test_longer_keywords_weigh_more_and_the_best_comes_first() -> None:
    [best, *rest] = suggest("人民大街的路灯不亮已经三天了", CATALOGUE)
    assert (best.entry.topic, best.matched, best.score) == ("路灯故障", ("路灯不亮", "路灯", "灯"), 7)
    assert rest == []


def test_several_entries_are_ranked_and_ties_go_by_code() -> None:
    ranked = suggest("小区水管爆裂，现在没有水", CATALOGUE)
    assert [s.entry.code for s in ranked] == ["0501", "0502"]  # 水管爆裂+没有水 (7) ahead of 水管爆裂 (4)
    assert [s.entry.code for s in suggest("水管爆裂", CATALOGUE)] == ["0501", "0502"]  # equal: by code


def test_no_keyword_means_no_suggestion_rather_than_a_guess() -> None:
    assert suggest("我想了解一下医保政策", CATALOGUE) == []
    assert suggest("", CATALOGUE) == []


def test_working_days_by_type_and_the_same_day_for_an_emergency() -> None:
    assert (LIGHTS.working_days("consultation"), LIGHTS.working_days("complaint")) == (3, 5)
    assert NOISE.working_days("complaint") == 3 and NOISE.working_days("help") == 3
    assert BURST.working_days("complaint") == 0 and NOISE.count_from == "sign"


def test_the_type_from_the_words_and_a_consultation_by_default() -> None:
    assert suggest_type("我要投诉这家店乱收费") == "complaint"
    assert suggest_type("举报有人夜里偷排污水") == "report"
    assert suggest_type("感谢社区工作人员，给他们点赞") == "praise"
    assert suggest_type("请问办理居住证需要什么材料") == "consultation"
    assert suggest_type("路灯不亮") == "consultation"
