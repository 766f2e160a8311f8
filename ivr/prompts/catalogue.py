"""Every prompt the hotline plays, in one place. Keep them short: GB/T 33358 wants calls answered in 15 s."""

from __future__ import annotations

# Numbers are written the way they are read out on the phone (幺二三四五, not 一万两千…).
PROMPTS: dict[str, str] = {
    "greeting": "您好，幺二三四五热线，正在为您接通。",
    "all-busy": "对不起，坐席全忙，请稍后再拨。",
    "callback-greeting": "您好，这里是幺二三四五热线。您刚才的来电未能接通，现在为您回拨，请稍候。",
    "rating": "请您对本次服务进行评价：满意请按1，基本满意请按2，不满意请按3。",
    "rating-thanks": "感谢您的评价，再见。",
}
