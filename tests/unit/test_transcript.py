"""Phone numbers and addresses in voicemail transcripts, as a recogniser writes them."""

from __future__ import annotations

import pytest

from routing.transcript import addresses, phone_numbers


@pytest.mark.parametrize(("transcript", "numbers"), [
    ("我的电话是13812345678请尽快回电", ["13812345678"]),
    ("回电请打幺三八 一二三四 五六七八", ["13812345678"]),
    ("号码是一三九零零零零一二三四", ["13900001234"]),
    ("座机0431-88881234或者手机15604310000", ["043188881234", "15604310000"]),
    ("打两次13812345678，还是13812345678", ["13812345678"]),
    ("路灯坏了三天了", []),
    ("幸福路12号", []),
    ("12345热线", []),
])
def test_phone_numbers_written_or_spoken_are_found_once_each(transcript: str, numbers: list[str]) -> None:
    assert [found.text for found in phone_numbers(transcript)] == numbers


def test_a_found_number_points_at_where_it_was_said() -> None:
    transcript = "您好，回电请打幺三八一二三四五六七八，谢谢"
    (found,) = phone_numbers(transcript)
    assert transcript[found.start:found.end] == "幺三八一二三四五六七八"


@pytest.mark.parametrize(("transcript", "expected"), [
    ("我住在南关区人民大街100号幸福小区3栋2单元501室，楼道灯坏了", "南关区人民大街100号幸福小区3栋2单元501室"),
    ("幸福路12号门口的路灯不亮", "幸福路12号"),
    ("地址是红旗街五号", "红旗街五号"),
    ("阳光花园8号楼电梯坏了", "阳光花园8号楼"),
])
def test_an_address_is_found_from_the_large_to_the_small(transcript: str, expected: str) -> None:
    assert [found.text for found in addresses(transcript)][:1] == [expected]


def test_a_message_without_a_place_has_no_address() -> None:
    assert addresses("我想咨询一下社保卡怎么补办") == []
