"""Question scripts for surveys (issue 6): the return visit (回访) of a closed order, and the public evaluation
of a unit (Jinan's 政务服务评议) for campaigns. Each question is answered by one key on the phone, or by one digit
of an SMS reply; the script's rating question feeds the satisfaction rate.

The same text is read out (generated prompts) and sent by SMS, so a citizen hears and reads the same choices.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from routing import survey

RATING_CHOICES = {key: rating for key, rating in survey.RATING_KEYS.items()}
SCALE_SPOKEN = "非常满意请按1，满意请按2，基本满意请按3，不满意请按4，非常不满意请按5。"
SCALE_WRITTEN = "1非常满意，2满意，3基本满意，4不满意，5非常不满意"
OPT_OUT_WORDS = ("退订", "TD", "td", "Td")


@dataclass(frozen=True)
class Question:
    key: str
    spoken: str  # the phone prompt
    written: str  # in the SMS
    choices: Mapping[str, str]  # digit → answer


@dataclass(frozen=True)
class Script:
    name: str
    title: str
    intro: str  # read out when the citizen answers
    questions: tuple[Question, ...]
    rating_question: str  # its answer is the survey's satisfaction rating
    solved_question: str = ""  # its answer says whether the problem was solved (return visits)
    offers_comment: bool = False

    def sms_text(self, subject: str) -> str:
        """The survey SMS: what it is about, each question's choices, how to reply."""
        asked = "；".join(f"第{index}位{question.written}" for index, question in enumerate(self.questions, 1))
        return (f"【12345热线】{subject}请回复{len(self.questions)}位数字：{asked}。"
                "回复TD退订。")

    def question(self, key: str) -> Question:
        return next(question for question in self.questions if question.key == key)


SOLVED = Question("solved", "您反映的问题是否已经解决？已解决请按1，未解决请按2。", "1已解决、2未解决",
                  {"1": "yes", "2": "no"})
RATING = Question("rating", "您对办理结果是否满意？" + SCALE_SPOKEN, SCALE_WRITTEN, RATING_CHOICES)

SCRIPTS: dict[str, Script] = {
    "return_visit": Script(
        "return_visit", "工单回访",
        "您好，这里是幺二三四五热线，对您反映问题的办理情况进行回访。",
        (SOLVED, RATING), rating_question="rating", solved_question="solved", offers_comment=True),
    "public_evaluation": Script(
        "public_evaluation", "政务服务评议",
        "您好，这里是幺二三四五热线，正在开展政务服务评议，耽误您一分钟。",
        (Question("service", "您对该单位的服务是否满意？" + SCALE_SPOKEN, "服务" + SCALE_WRITTEN, RATING_CHOICES),
         Question("efficiency", "您对该单位的办事效率是否满意？" + SCALE_SPOKEN, "效率" + SCALE_WRITTEN,
                  RATING_CHOICES)),
        rating_question="service"),
}

# Prompts every script needs besides its questions (ivr/prompts/catalogue.py generates them all).
COMMON_PROMPTS = {
    "survey-comment-offer": "如需留言，请按1；结束请挂机。",
    "survey-comment-record": "请在提示音后留言，说完请按井号键。",
    "survey-thanks": "感谢您的支持，再见。",
}


def prompt_name(script: Script, part: str) -> str:
    return f"survey-{script.name}-{part}"


def prompts() -> dict[str, str]:
    """Every survey prompt by name: each script's intro and questions, and the common ones."""
    found = dict(COMMON_PROMPTS)
    for script in SCRIPTS.values():
        found[prompt_name(script, "intro")] = script.intro
        for question in script.questions:
            found[prompt_name(script, question.key)] = question.spoken
    return found


_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_ONLY_DIGITS = re.compile(r"^[\d\s,.;，。；、]*$")


def wants_no_contact(text: str) -> bool:
    """退订 / TD: the citizen asks never to be surveyed again."""
    return text.strip() in OPT_OUT_WORDS


def answers_from_sms(script: Script, text: str) -> dict[str, str]:
    """A reply's answers: one digit per question (`14`, `1，4`, `１４`); a return visit also takes words
    (已解决，满意). Raises survey.MalformedReply with what was expected."""
    cleaned = text.translate(_FULL_WIDTH).strip()
    if cleaned and _ONLY_DIGITS.match(cleaned):
        digits = [char for char in cleaned if char.isdigit()]
        if len(digits) == len(script.questions):
            chosen = {q.key: q.choices.get(digit) for q, digit in zip(script.questions, digits, strict=True)}
            if all(chosen.values()):
                return {key: answer for key, answer in chosen.items() if answer}
    if script.solved_question:
        worded = survey.from_sms(cleaned)  # raises MalformedReply when it answers nothing
        found = {script.solved_question: ("yes" if worded.solved else "no") if worded.solved is not None else None,
                 script.rating_question: worded.rating}
        return {key: answer for key, answer in found.items() if answer}
    raise survey.MalformedReply(
        f"reply {text[:40]!r} is not {len(script.questions)} digits, one per question: "
        + "; ".join(f"{q.key} {'/'.join(q.choices)}" for q in script.questions))


def answer_from_key(question: Question, key: str) -> str | None:
    return question.choices.get(key[:1]) if key else None


def rating_and_solved(script: Script, answers: Mapping[str, str]) -> tuple[str | None, bool | None]:
    """The satisfaction rating and, for a return visit, whether the problem was solved."""
    solved = answers.get(script.solved_question) if script.solved_question else None
    return answers.get(script.rating_question), None if solved is None else solved == "yes"
