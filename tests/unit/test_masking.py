"""routing.masking: every written form of a phone number, both resident ID forms and names are masked in free
text; dates, amounts, addresses and order numbers stay readable."""

from __future__ import annotations

import pytest

from routing.masking import IDENTITY_RULES, mask_name, mask_number, mask_text

MASKED = [
    ("电话13912345678", "电话139****5678"),
    ("电话139 1234 5678", "电话139 **** 5678"),
    ("电话139-1234-5678", "电话139-****-5678"),
    ("+86 139 1234 5678", "+86 139 **** 5678"),
    ("+8613912345678", "+86139****5678"),
    ("008613912345678", "0086139****5678"),
    ("86-13912345678", "86-139****5678"),
    ("座机0571-88887777", "座机057*-******77"),
    ("座机010 8888 7777", "座机010 **** **77"),
    ("座机(021)12345678", "座机(021)******78"),
    ("座机（0571）8888-7777", "座机（057*）****-**77"),
    ("座机+86 10 6512 3456", "座机+86 10 **** **56"),
    ("本地号码88887777或8887777", "本地号码******77或*****77"),
    ("身份证110101199003071234", "身份证110*************34"),
    ("身份证11010119900307123X", "身份证110*************3X"),
    ("身份证11010119900307123x", "身份证110*************3x"),
    ("身份证110101 19900307 1234", "身份证110*** ******** **34"),
    ("旧身份证110101900307123", "旧身份证110**********23"),
    ("姓名：王小明，男", "姓名：王**，男"),
    ("联系人 李四", "联系人 李*"),
    ("我叫张三", "我叫张*"),
    ("My name is Anna Li.", "My name is A*** L*."),
    ("name: Bob", "name: B**"),
]
KEPT = ["工单20261125000123已办结", "2026-11-25 09:30", "罚款500元", "幸福路12号3单元501", "拨打12345",
        "请问社保卡怎么办理", "", "2026年11月25日"]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_personal_numbers_and_introduced_names_are_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_dates_amounts_addresses_and_order_numbers_are_kept(text: str) -> None:
    assert mask_text(text) == text


def test_the_citizens_known_names_are_masked_wherever_they_appear() -> None:
    text = "李四(新)来电，李四说路灯坏了；李四四不是他"
    assert mask_text(text, ["李四", "李四(新)", None, "王"]) == "李****来电，李*说路灯坏了；李*四不是他"
    assert mask_text(None, ["李四"]) is None


def test_names_and_numbers_keep_only_what_tells_two_apart() -> None:
    assert (mask_name("王小明"), mask_name("Anna Li"), mask_name("李")) == ("王**", "A*** L*", "李")
    assert (mask_number("13912345678"), mask_number("88887777"), mask_number("110")) == (
        "139****5678", "****7777", "***")


def test_a_department_sees_the_citizens_own_number_and_any_id_masked_and_other_numbers_kept() -> None:
    text = "我是李四，电话+86 139-1234-5678，座机88887777，身份证110101199003071234，被举报人电话13700001111"
    assert mask_text(text, ["李四"], ["+8613912345678", "88887777", None, "110"], IDENTITY_RULES) == (
        "我是李*，电话+86 139-****-5678，座机****7777，身份证110*************34，被举报人电话13700001111")
