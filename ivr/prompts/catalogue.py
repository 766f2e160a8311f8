"""Every prompt the hotline plays, in one place. Keep them short: GB/T 33358 wants calls answered in 15 s."""

from __future__ import annotations

from routing.survey_scripts import prompts as survey_prompts

# Numbers are written the way they are read out on the phone (幺二三四五, not 一万两千…).
PROMPTS: dict[str, str] = {
    "greeting": "您好，幺二三四五热线，正在为您接通。",
    "all-busy": "对不起，坐席全忙，请稍后再拨。",
    "callback-greeting": "您好，幺二三四五热线为您回电，请稍候。",
    "enter-agent-id": "请输入工号，以井号键结束。",
    "enter-pin": "请输入密码。",
    "logged-in": "签入成功。",
    "logged-out": "已签出。",
    "paused": "已示忙。",
    "resumed": "已示闲。",
    "login-failed": "工号或密码错误。",
    "not-logged-in": "本分机未签入。",
    "seat-refused": "操作未成功，请在坐席工作台查看原因。",
    "overflow-offer": "保留排队顺序、挂机等待回电，请按1；留言，请按2；继续等待，请不要按键。",
    "voicemail-prompt": "请在提示音后留言，说完请按井号键或挂机。",
    "voicemail-thanks": "留言已记录，我们会尽快处理，再见。",
    "callback-accepted": "好的，我们将按您的排队顺序尽快回电，再见。",
    "wait-unknown": "目前坐席繁忙，请耐心等待。",
    "rating": "请您对本次服务进行评价：满意请按1，基本满意请按2，不满意请按3。",
    "rating-thanks": "感谢您的评价，再见。",
}

# The caller's place and expected wait, read out between stretches of waiting.
CHINESE_NUMBERS = "一二三四五六七八九"
PROMPTS["place-1"] = "您是下一位。"
for _ahead, _number in enumerate(CHINESE_NUMBERS, start=1):
    PROMPTS[f"place-{_ahead + 1}"] = f"您前面还有{_number}位来电。"
    PROMPTS[f"wait-{_ahead}"] = f"预计等待约{_number}分钟。"
PROMPTS["place-many"] = "您前面还有九位以上来电。"
PROMPTS["wait-many"] = "预计等待超过九分钟。"

# The progress query by phone (ivr/progress): only static pieces, so an order is read out as its number's
# digits, its state and its due date; names and replies stay for an agent to read.
PHONE_DIGITS = "零幺二三四五六七八九"
for _digit, _word in enumerate(PHONE_DIGITS):
    PROMPTS[f"digit-{_digit}"] = _word


def _counted(number: int) -> str:
    """1–31 as said in a date: 十二, 二十一, 三十."""
    tens, ones = divmod(number, 10)
    words = ("" if tens < 2 else CHINESE_NUMBERS[tens - 1]) + ("十" if tens else "")
    return words + (CHINESE_NUMBERS[ones - 1] if ones else "")


for _month in range(1, 13):
    PROMPTS[f"month-{_month}"] = f"{_counted(_month)}月"
for _day in range(1, 32):
    PROMPTS[f"day-{_day}"] = f"{_counted(_day)}日"
PROMPTS.update({
    "progress-latest": "您最近的工单，编号",
    "progress-requested": "您查询的工单，编号",
    "progress-none": "未查到可按来电号码播报的工单。",
    "progress-not-found": "您的号码下没有这个工单号。",
    "progress-menu": "查询其他工单请按1，人工服务请按0，结束请挂机。",
    "progress-enter-number": "请输入工单号，以井号键结束。",
    "progress-unavailable": "查询暂不可用，请稍后再拨，或等待人工服务。",
    "progress-due": "预计",
    "progress-due-end": "前办结。",
    "progress-overdue": "已超过办理时限，我们正在督办。",
    # One per lifecycle state (routing/lifecycle.py); a test checks none is missing.
    "progress-state-draft": "正在等待受理。",
    "progress-state-accepted": "已受理。",
    "progress-state-dispatched": "已派单，等待部门签收。",
    "progress-state-signed": "部门正在办理。",
    "progress-state-returned": "已退回，正在审核。",
    "progress-state-replied": "部门已答复，正在审核。",
    "progress-state-closed": "已办结。",
    "progress-state-visited": "已回访。",
    "progress-state-evaluated": "已评价，办理完毕。",
    "progress-state-merged": "已与相同诉求的工单合并办理。",
    "progress-state-discarded": "已作废。",
})

# Survey calls (回访, 评议): each script's intro and questions, the comment offer, and the apology when our server
# cannot be reached.
PROMPTS.update(survey_prompts())
PROMPTS["survey-sorry"] = "对不起，系统繁忙，我们稍后再与您联系，再见。"
