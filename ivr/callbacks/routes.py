"""GET /api/callbacks?day=YYYY-MM-DD: a day's callbacks for the desk, with their status in Chinese.

Agents call back by hand what the dialer does not (callbacks.dial off, or given up); a number the outbound
rules refuse (routing/dialable.py) shows as 不予回拨 with its kind (国际号码, 紧急号码…), never dialled.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import keys
from ivr.callbacks.store import CallbackStore
from ivr.db.models import Callback, as_utc
from ivr.workorders.errors import BadOrder
from routing import dialable
from routing.callbacks import NOT_DIALLED, STATUS_LABELS

LIST_LIMIT = 1000


async def callbacks_of_day(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    try:
        day = date.fromisoformat(request.query.get("day", today.isoformat()))
    except ValueError:
        raise BadOrder("day is a date such as 2026-11-30", field="day") from None
    found = await CallbackStore(request.app[keys.ENGINE]).of_day(day.isoformat(), LIST_LIMIT)
    return web.json_response({"day": day.isoformat(), "callbacks": [shown(callback) for callback in found]})


def shown(callback: Callback) -> dict[str, Any]:
    kinds = {kind.value: kind for kind in dialable.Kind}
    kind = kinds.get(callback.last_result or "") if callback.status == NOT_DIALLED else None
    return {
        "id": callback.id, "number": callback.number, "reason": callback.reason, "status": callback.status,
        "status_label": STATUS_LABELS.get(callback.status, callback.status), "attempts": callback.attempts,
        "last_result": callback.last_result, "agent": callback.agent,
        "not_dialled_because": kind.value if kind else None,
        "not_dialled_label": dialable.LABELS[kind] if kind else None,
        "created_at": as_utc(callback.created_at).isoformat(),
    }


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/callbacks", callbacks_of_day)
