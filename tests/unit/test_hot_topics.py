"""routing.hot_topics: an order's terms (stop words, single characters, numbers, phone numbers and punctuation
dropped; ASCII lower-cased; each term once; at most MAX_TERMS), and surges against the period before, counted
by hand over a week of property-management (物业) complaints."""

from __future__ import annotations

from collections import Counter

from routing.hot_topics import MAX_TERMS, Trend, is_surge, terms, trends, warm

CURRENT = [
    "你好，我们小区物业乱收停车费，希望有关部门处理一下，谢谢。",
    "反映物业不修电梯，电梯坏了好几天，电话13912345678。",
    "物业乱收停车费，市民很有意见。",
    "小区物业服务差，垃圾没人清理。",
    "公交车司机态度不好。",
]
PREVIOUS = ["小区物业服务差。", "公交车晚点了，希望处理。", "公交车司机态度不好，公交车很挤。"]


def counted(texts: list[str]) -> Counter[str]:
    """As the reports count: how many orders name each term."""
    return Counter(term for text in texts for term in terms(text, ["物业"]))


def test_an_orders_terms_leave_out_what_says_nothing_about_its_subject() -> None:
    warm()
    assert terms("你好，我想咨询一下公积金贷款的问题，谢谢") == ["公积金", "贷款"]
    # 电梯 twice, counted once; the phone number, 好几天 and the boilerplate dropped.
    assert terms(CURRENT[1], ["物业"]) == ["物业", "不修", "电梯"]
    assert terms("电话13800138000，0571-88886666，2026年，12.5元，十二，％，……") == []
    assert terms("我们的小区，怎么办？") == ["小区"]


def test_ascii_words_are_lower_cased() -> None:
    assert terms("WiFi 信号差，IPTV 也卡") == ["wifi", "信号", "iptv"]


def test_at_most_twenty_terms_an_order() -> None:
    words = [f"w{i:02d}" for i in range(25)]
    assert MAX_TERMS == 20
    assert terms(" ".join(words)) == words[:20]


def test_extra_words_stay_whole() -> None:
    # A made-up keyword, so that no other test (the voicemail analysis adds the catalogue's) has added it.
    assert terms("门口的井盖测试词，坏了") == ["门口", "井盖", "测试"]
    assert terms("门口的井盖测试词，坏了", ["井盖测试词"]) == ["门口", "井盖测试词"]


def test_property_complaints_surge_against_the_week_before() -> None:
    current, previous = counted(CURRENT), counted(PREVIOUS)
    # 物业 in 4 of this week's 5 orders, 1 of last week's 3; 公交车 in 2 orders last week (twice in one).
    assert (current["物业"], previous["物业"]) == (4, 1)
    assert (current["电梯"], current["公交车"], previous["公交车"]) == (1, 1, 2)
    assert trends(current, previous, factor=2.5, min_count=2, limit=5) == [
        Trend("物业", 4, 1, surge=True),  # 4 ≥ 2 and 4 ≥ 2.5 × 1
        Trend("乱收", 2, 0, surge=True),  # new, and frequent enough
        Trend("停车费", 2, 0, surge=True),
        Trend("小区", 2, 1, surge=False),  # 2 < 2.5 × 1
        Trend("不修", 1, 0, surge=False),  # ties at 1 by term: 不修 before 不好; below min_count
    ]


def test_the_surge_rule() -> None:
    assert is_surge(5, 0, 2.0, 5)
    assert not is_surge(4, 0, 2.0, 5)
    assert is_surge(10, 5, 2.0, 5)
    assert not is_surge(9, 5, 2.0, 5)


def test_trends_leave_out_terms_not_seen() -> None:
    assert trends({"物业": 0, "电梯": 1}, {"物业": 3}, 2.0, 1, 10) == [Trend("电梯", 1, 0, True)]
