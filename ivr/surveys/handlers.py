"""hotline-survey: a citizen the hotline called picks up and answers the script's questions by key; the
dialplan records an optional comment. hotline-survey-comment: that comment, taken in for transcription."""

from __future__ import annotations

from ivr import dialplan_variables as var
from ivr.fastagi import AgiCall, Router
from ivr.intake.context import CallContext
from routing.survey_scripts import SCRIPTS, Question, answer_from_key, prompt_name

WAIT_FOR_KEY_MS = 6000
ATTEMPTS = 2
# The intro, two or three questions asked up to twice, and the comment offer: longer than an intake greeting.
TIME_LIMIT = 150.0


async def hotline_survey(call: AgiCall, ctx: CallContext) -> None:
    """Intro, each question until one goes unanswered, the answers saved, then the comment offer or goodbye."""
    dialer = ctx.services.surveys
    survey = await dialer.store.get(int(await call.get_variable(var.SURVEY_ID) or 0)) if dialer else None
    if dialer is None or survey is None:
        ctx.log.error("a survey call without its survey: goodbye")
        await call.stream_file(ctx.prompt("survey-thanks"))
        return await call.hangup()
    script = SCRIPTS[survey.script]
    await call.stream_file(ctx.prompt(prompt_name(script, "intro")))
    answers: dict[str, str] = {}
    for question in script.questions:
        answer = await _ask(call, ctx, prompt_name(script, question.key), question)
        if answer is None:
            break
        answers[question.key] = answer
    if not answers:
        ctx.log.info("survey %d: no answer keyed", survey.id)
        return await call.hangup()
    await dialer.answered(survey.id, answers, call.uniqueid)
    if script.offers_comment and await call.get_data(ctx.prompt("survey-comment-offer"), 4000, 1) == "1":
        await call.set_variable(var.NEXT, "comment")  # the dialplan records it
        return None
    await call.stream_file(ctx.prompt("survey-thanks"))
    return await call.hangup()


async def _ask(call: AgiCall, ctx: CallContext, prompt: str, question: Question) -> str | None:
    for _attempt in range(ATTEMPTS):
        answer = answer_from_key(question, await call.get_data(ctx.prompt(prompt), WAIT_FOR_KEY_MS, 1))
        if answer is not None:
            return answer
    return None


async def hotline_survey_comment(call: AgiCall, ctx: CallContext) -> None:
    """Run by the hang-up handler after a comment was recorded: a draft with its transcription, on the survey."""
    dialer, ingester = ctx.services.surveys, ctx.services.voicemail
    survey_id = int(await call.get_variable(var.SURVEY_ID) or 0)
    if dialer is None or ingester is None:
        ctx.log.error("survey %d: comment recorded but not wired in: it stays on disk", survey_id)
        return
    survey = await dialer.store.get(survey_id)
    # The survey call's caller id is the hotline's own number: the citizen is the survey's.
    order_id = await ingester.reported(call.uniqueid, survey.number if survey else None)
    await dialer.comment_taken(survey_id, str(ingester.archive / f"{call.uniqueid}.wav"), order_id)
    ctx.log.info("survey %d: comment taken in as draft %s for transcription", survey_id, order_id)


def register(router: Router[CallContext]) -> None:
    router.add("hotline-survey", hotline_survey, time_limit=TIME_LIMIT)
    router.add("hotline-survey-comment", hotline_survey_comment)
