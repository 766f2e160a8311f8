"""Hot topics: the terms citizens' requests are about, and which of them surge against the period before.

An order's text is cut into words by `jieba` (the catalogue's keywords added as words, so 路灯不亮 stays one
term), and what says nothing about the subject is dropped: stop words (pronouns, particles, the politeness and
the 12345 boilerplate every order has: 反映, 问题, 市民, 来电…), single characters, numbers (phone numbers
included), punctuation. A term counts once per order, so one long complaint does not make a topic hot.

jieba loads its dictionary (about a second) on first use, and cutting is CPU work: callers on the event loop
run `warm()` and `terms()` in a thread (asyncio.to_thread) or a worker process.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_TERMS = 20  # per order: enough for any request's subject, and the stored list stays short

# Multi-character words only: single characters (的, 了, 我…) are dropped anyway.
STOP_WORDS = frozenset("""
我们 你们 他们 她们 它们 自己 大家 人家 别人 本人 您好 你好 谢谢 感谢 麻烦 辛苦 不好意思 请问 请求 帮忙 帮助
这个 那个 这些 那些 这样 那样 这里 那里 这边 那边 这种 那种 哪里 哪个 什么 怎么 怎么办 怎样 如何 为什么 多少
一下 一些 一个 一直 一次 一样 一点 一起 有点 有些 有关 相关 关于 对于 由于 因为 所以 但是 可是 而且 并且 或者
还是 就是 不是 只是 作为 然后 如果 虽然 已经 没有 还有 可以 可能 应该 需要 能否 是否 不能 不会 不要 想要 要求
希望 觉得 认为 知道 表示 告知 告诉 说明 看看 进行 处理 解决 落实 答复 回复 反映 反应 问题 情况 事情 事项 市民
来电 来电人 来电者 诉求 咨询 投诉 举报 建议 内容 具体 相应 有关部门 部门 单位 工作人员 人员 热线 电话 号码
联系 联系方式 地址 位置 附近 目前 现在 当时 今天 昨天 明天 今年 去年 每天 经常 多次 很多 非常 特别 比较 上午
中午 下午 晚上 时候 时间 一个月 几个月 几天 好几天 半年 一年 之前 之后 以后 以前 期间 左右 其中 其他 另外 同时
然而 而是 以及 还要 并未 仍然
""".split())

_NUMBER = re.compile(r"^[\d０-９.,:%％+\-]+$|^[零〇一二三四五六七八九十百千万亿两]+$")
_MEANINGFUL = re.compile(r"[\u4e00-\u9fffA-Za-z]")  # a Chinese character or a Latin letter

_words_lock = threading.Lock()
_tokenizer: Any = None
_tokenizer_words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Trend:
    term: str
    count: int
    previous: int  # in the period before, of the same length
    surge: bool


KEYWORD_FREQUENCY = 100_000


def warm(extra_words: Iterable[str] = ()) -> None:
    """Load jieba's dictionary now (about a second; run it off the event loop)."""
    _tokenizer_for(extra_words).initialize()


def terms(text: str, extra_words: Iterable[str] = ()) -> list[str]:
    """The distinct meaningful terms of one order's text, in order of appearance, at most MAX_TERMS.
    `extra_words` (the catalogue's keywords) join jieba's dictionary. Blocking: see the module's note."""
    found: dict[str, None] = {}
    for word in _tokenizer_for(extra_words).lcut(text):
        term = _term(word)
        if term is not None:
            found.setdefault(term)
            if len(found) == MAX_TERMS:
                break
    return list(found)


def _tokenizer_for(extra_words: Iterable[str]) -> Any:
    """A tokenizer of our own with exactly these extra words: the terms depend on the text and the catalogue's
    keywords alone, not on the words other parts add to jieba's shared tokenizer (the voicemail analysis) nor on
    an earlier catalogue. The catalogue changes seldom: the last tokenizer is kept, a new set makes a new one."""
    global _tokenizer, _tokenizer_words
    words = frozenset(word for word in extra_words if word)
    with _words_lock:  # terms() may run in several threads
        if _tokenizer is None or words != _tokenizer_words:
            # Imported when first needed: importing it costs every `hotline` command a tenth of a second.
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            for word in sorted(words):
                # A plain add_word loses to jieba's own splits (路灯不亮 → 路 / 灯不亮): a catalogue keyword
                # is a word of this domain, so it gets a frequency that wins.
                tokenizer.add_word(word, freq=KEYWORD_FREQUENCY)
            _tokenizer, _tokenizer_words = tokenizer, words
        return _tokenizer


def _term(word: str) -> str | None:
    """The word as a term (ASCII lower-cased), or None when it says nothing about the subject."""
    word = word.strip()
    if word.isascii():
        word = word.lower()
    if len(word) < 2 or word in STOP_WORDS or _NUMBER.match(word) or not _MEANINGFUL.search(word):
        return None
    return word


def is_surge(count: int, previous: int, factor: float, min_count: int) -> bool:
    """A term or catalogue topic surges when it is frequent enough to matter and at least `factor` times as
    frequent as in the period before (new ones included: previous 0)."""
    return count >= min_count and count >= factor * previous


def trends(current: Mapping[str, int], previous: Mapping[str, int], factor: float, min_count: int,
           limit: int) -> list[Trend]:
    """The `limit` most frequent terms of the period (ties by term), each against the period before."""
    ranked = sorted(((term, count) for term, count in current.items() if count > 0),
                    key=lambda item: (-item[1], item[0]))[:limit]
    return [Trend(term, count, previous.get(term, 0), is_surge(count, previous.get(term, 0), factor, min_count))
            for term, count in ranked]
