"""GET /healthz: is each part of the hotline working? 200 when all are, 503 otherwise."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from ivr import keys
from ivr.db.engine import ping


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    database = await _database(app)
    ami = app[keys.AMI]
    fastagi = app[keys.FASTAGI]
    body: dict[str, Any] = {
        "database": database,
        "ami": {"ok": ami.connected, "logins": ami.logins, **ami.queue_state.summary()},
        "fastagi": {
            "ok": fastagi.listening,
            "address": f"{fastagi.settings.host}:{fastagi.settings.port}",
            "sessions_served": fastagi.sessions_served,
        },
        "live_calls": len(app[keys.TRACKER].live),
        # Not part of "ok": calls are answered without a speech model; voicemails then wait, untranscribed.
        "transcription": _transcription(app),
        # Not part of "ok" either: calls are answered without SMS; messages wait, queued.
        "sms": await _sms(app),
    }
    healthy = database["ok"] and ami.connected and fastagi.listening
    body["ok"] = healthy
    return web.json_response(body, status=200 if healthy else 503)


async def _database(app: web.Application) -> dict[str, Any]:
    """Reachable, and taking the call rows: a database that answers a ping but refuses the writes is not ok.
    Rows it refused for good are set aside (not part of "ok": the others are written, and a caller must not
    be able to turn the server unhealthy); their count, the last reason and the file are shown."""
    writer = app[keys.CALL_WRITER]
    section: dict[str, Any] = {
        "ok": writer.last_error is None, "pending_writes": len(writer.pending), "last_write_error": writer.last_error,
        "rows_rejected": writer.rows_rejected, "last_rejection": writer.last_rejection,
        "rejected_file": str(writer.rejected) if writer.rows_rejected else None,
    }
    try:
        await ping(app[keys.ENGINE])
    except (SQLAlchemyError, OSError) as exc:  # TimeoutError is an OSError
        section |= {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"}
    return section


def _transcription(app: web.Application) -> dict[str, Any]:
    worker, ingester = app[keys.TRANSCRIBER], app[keys.VOICEMAIL_INGESTER]
    return {"ok": worker.problem is None, "model": str(worker.pool.model.path) if worker.pool else None,
            "problem": worker.problem, "voicemails_waiting_for_database": len(ingester.waiting)}


async def _sms(app: web.Application) -> dict[str, Any]:
    sender = app[keys.SMS_SENDER]
    kannel = app.get(keys.KANNEL)
    section: dict[str, Any] = {
        "kannel": {"managed": kannel is not None, "running": kannel.running if kannel else None,
                   "restarts": kannel.restarts if kannel else 0, "problem": kannel.problem if kannel else None},
        "sent_since_start": sender.sent, "problem": sender.problem}
    try:
        counts = await app[keys.SMS_STORE].counts()
    except (SQLAlchemyError, OSError):
        counts = None
    if counts is not None:
        section |= {status: counts.get(status, 0) for status in ("queued", "sending", "unknown", "failed")}
    section["ok"] = (kannel is None or kannel.running) and sender.problem is None
    return section


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, name="healthz")
