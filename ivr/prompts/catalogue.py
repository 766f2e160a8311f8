"""Every prompt the hotline plays, in one place. Keep them short: GB/T 33358 wants calls answered in 15 s."""

from __future__ import annotations

# Numbers are written the way they are read out on the phone (幺二三四五, not 一万两千…).
PROMPTS: dict[str, str] = {
    "greeting": "您好，幺二三四五热线，正在为您接通。",
    "all-busy": "对不起，坐席全忙，请稍后再拨。",
    "callback-greeting": "您好，这里是幺二三四五热线。您刚才的来电未能接通，现在为您回拨，请稍候。",
    "enter-agent-id": "请输入工号，以井号键结束。",
    "enter-pin": "请输入密码。",
    "logged-in": "签入成功。",
    "logged-out": "已签出。",
    "paused": "已示忙。",
    "resumed": "已示闲。",
    "login-failed": "工号或密码错误。",
    "not-logged-in": "本分机未签入。",
    "seat-refused": "操作未成功，请在坐席工作台查看原因。",
    "rating": "请您对本次服务进行评价：满意请按1，基本满意请按2，不满意请按3。",
    "rating-thanks": "感谢您的评价，再见。",
}
