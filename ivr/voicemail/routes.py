"""The desk's view of voicemail: the drafts waiting for an agent, each with its recording, its transcript and
what the transcript suggests, and the transcriptions still pending or failed. For the centre's agents and
supervisors; the draft itself is corrected, accepted and dispatched through the orders API."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ivr import keys
from ivr.web.input import int_param
from ivr.workorders.errors import Forbidden, OrderNotFound
from ivr.workorders.routes import current_actor


async def _centre_only(request: web.Request) -> None:
    actor = await current_actor(request)
    if not actor.in_centre:
        raise Forbidden("voicemail is for the centre's agents")


async def overview(request: web.Request) -> web.Response:
    await _centre_only(request)
    worker = request.app[keys.TRANSCRIBER]
    store = request.app[keys.VOICEMAIL]
    return web.json_response({
        "model": worker.pool.model.name if worker.pool else None,
        "problem": worker.problem,
        "waiting_for_database": len(request.app[keys.VOICEMAIL_INGESTER].waiting),
        "counts": await store.counts(drafts_only=True),
        "items": await store.waiting_drafts(),
    })


async def retry(request: web.Request) -> web.Response:
    await _centre_only(request)
    order_id = int_param(request, "order_id")
    if not await request.app[keys.VOICEMAIL].retry_failed(datetime.now(UTC), order_id):
        raise OrderNotFound(f"order {order_id} has no failed transcription")
    request.app[keys.TRANSCRIBER].wake()
    request.app[keys.DESK_HUB].tell_everyone({"type": "voicemails"})
    return web.json_response({"ok": True})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/voicemails", overview)
    app.router.add_post("/api/voicemails/{order_id}/retry", retry)
