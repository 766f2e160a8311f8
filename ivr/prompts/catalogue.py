"""Every prompt the hotline plays, in one place. Keep them short: GB/T 33358 wants calls answered in 15 s."""

from __future__ import annotations

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
    "voicemail-prompt": "请在提示音后留言，说完请挂机。",
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
