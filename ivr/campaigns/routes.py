"""Survey campaigns over HTTP, for the centre's supervisors and administrators (anyone else: 403).

    GET  /campaigns                            the page
    GET  /api/campaigns                        the campaigns, the scripts, channels and units to choose from
    POST /api/campaigns                        a new campaign from its list: multipart (name, script, channels,
                                               quotas as a JSON object, file) or JSON (the same, the list in "csv");
                                               201 with the campaign and the list's problems by line
    GET  /api/campaigns/{id}                   its state, progress per unit, results per unit and question,
                                               problem lines
    POST /api/campaigns/{id}/start|pause|resume|cancel    409 with the reason when not allowed now
    GET  /api/campaigns/{id}/results.csv       results per unit and question
    GET  /api/campaigns/{id}/answers.csv       each number's answers (masked numbers)
    GET  /api/campaigns/{id}/events            server-sent events: the progress whenever it changes
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.streams import StreamReader
from sqlalchemy.exc import InterfaceError, OperationalError

from ivr import keys
from ivr.campaigns.errors import BadCampaign
from ivr.campaigns.store import NewCampaign
from ivr.db.limits import check_storable
from ivr.web.input import int_param
from ivr.web.roles import supervisor
from ivr.workorders.actors import Actor
from routing import campaigns as rules
from routing.survey_scripts import SCRIPTS

logger = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
MAX_LIST_BYTES = 32 * 1024 * 1024  # a list of 100,000 numbers with names is about 3 MB
MAX_FIELD_BYTES = 64 * 1024


async def _supervisor(request: web.Request) -> Actor:
    return await supervisor(request, "survey campaigns are run by the centre's supervisors and administrators")


def _campaign_id(request: web.Request) -> int:
    return int_param(request, "campaign_id")


# Reading


async def listing(request: web.Request) -> web.Response:
    await _supervisor(request)
    store = request.app[keys.CAMPAIGNS]
    campaigns = [{**campaign.as_json(), "numbers": sum(statuses.values()),
                  "answered": statuses.get("answered", 0), "statuses": statuses}
                 for campaign, statuses in await store.all()]
    scripts = [{"name": script.name, "title": script.title,
                "questions": [{"key": q.key, "text": q.written, "label": rules.QUESTION_LABELS.get(q.key, q.key),
                               "choices": dict(q.choices)} for q in script.questions]}
               for script in SCRIPTS.values()]
    units = [{"code": code, "name": name} for code, name in (await store.units()).items()]
    return web.json_response({"campaigns": campaigns, "scripts": scripts, "units": units,
                              "channels": [{"value": value, "label": rules.CHANNEL_LABELS[value]}
                                           for value in rules.CHANNELS]})


async def detail(request: web.Request) -> web.Response:
    await _supervisor(request)
    store, campaign_id = request.app[keys.CAMPAIGNS], _campaign_id(request)
    snapshot = await store.snapshot(campaign_id)
    problems = [{"line": p.line, "problem": p.problem} for p in await asyncio.to_thread(store.problems, campaign_id)]
    return web.json_response({**snapshot, "problems": problems})


async def results_csv(request: web.Request) -> web.Response:
    await _supervisor(request)
    campaign_id = _campaign_id(request)
    return _csv(await request.app[keys.CAMPAIGNS].results_csv(campaign_id), f"campaign-{campaign_id}-results.csv")


async def answers_csv(request: web.Request) -> web.Response:
    await _supervisor(request)
    campaign_id = _campaign_id(request)
    return _csv(await request.app[keys.CAMPAIGNS].answers_csv(campaign_id), f"campaign-{campaign_id}-answers.csv")


def _csv(text: str, filename: str) -> web.Response:
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}", "X-Content-Type-Options": "nosniff"})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `progress` with the campaign's snapshot at once, then whenever it changes."""
    await _supervisor(request)
    campaign_id = _campaign_id(request)
    await request.app[keys.CAMPAIGNS].get(campaign_id)  # 404 before the stream opens
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    updates = request.app[keys.CAMPAIGN_PROGRESS].updates(campaign_id)
    async with contextlib.aclosing(updates):
        try:
            async for snapshot in updates:
                data = json.dumps(snapshot, ensure_ascii=False, separators=(",", ":"))
                await response.write(f"event: progress\ndata: {data}\n\n".encode())
        except ConnectionResetError:
            pass  # the page was closed
        except (OperationalError, InterfaceError, OSError) as exc:  # the page's EventSource connects again
            logger.warning("campaign %s progress stream: database unavailable: %s", campaign_id, exc)
    return response


# Changing


async def create(request: web.Request) -> web.Response:
    actor = await _supervisor(request)
    if request.content_type.startswith("multipart/"):
        fields, text = await _multipart(request)
    else:
        fields = await _json(request)
        if not isinstance(fields.get("csv"), str):
            raise BadCampaign('give the number list as text in "csv" (or upload it as multipart "file")',
                              field="csv")
        text = str(fields["csv"])
    check_storable({**fields, "file": text}, BadCampaign)  # NUL cannot be stored, in a name of the list either
    new = NewCampaign(name=_text(fields, "name"), script=_text(fields, "script"),
                      channels=_text(fields, "channels") or "phone,sms", quotas=_quotas(fields.get("quotas")),
                      created_by=actor.name)
    store = request.app[keys.CAMPAIGNS]
    imported = await store.create(new, text, datetime.now(UTC))
    request.app[keys.CAMPAIGN_PROGRESS].changed(imported.campaign.id)
    return web.json_response({"campaign": imported.campaign.as_json(), "imported": imported.imported,
                              "problems": [{"line": p.line, "problem": p.problem} for p in imported.problems]},
                             status=201)


async def act(request: web.Request) -> web.Response:
    await _supervisor(request)
    store, campaign_id, action = request.app[keys.CAMPAIGNS], _campaign_id(request), request.match_info["action"]
    campaign = await store.act(campaign_id, action, datetime.now(UTC))
    request.app[keys.CAMPAIGN_PROGRESS].changed(campaign_id)
    return web.json_response({"campaign": campaign.as_json()})


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name, "")
    if not isinstance(value, str):
        raise BadCampaign(f"{name} must be text", field=name)
    return value.strip()


def _quotas(value: object) -> dict[str, object]:
    """A JSON object of unit → answers wanted (as an object, or as its text in a form field)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadCampaign('quotas must be a JSON object of unit → answers wanted, e.g. {"urban": 50}',
                              field="quotas") from None
    if not isinstance(value, dict):
        raise BadCampaign('quotas must be a JSON object of unit → answers wanted, e.g. {"urban": 50}',
                          field="quotas")
    return {str(unit): count for unit, count in value.items()}


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await _limited(request.content, MAX_LIST_BYTES, "the request"))
    except ValueError:  # not JSON, or not UTF-8
        raise BadCampaign("the request body is not JSON: send multipart/form-data or a JSON object") from None
    if not isinstance(data, dict):
        raise BadCampaign("the request body must be a JSON object")
    return data


async def _multipart(request: web.Request) -> tuple[dict[str, Any], str]:
    """The form's fields and the list's text (its `file` part, UTF-8 or GB 18030)."""
    fields: dict[str, Any] = {}
    data: bytes | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadCampaign("nested multipart bodies are not taken")
        if part.name == "file":
            data = await _limited(part, MAX_LIST_BYTES, "the list")
        elif part.name:
            try:
                fields[part.name] = (await _limited(part, MAX_FIELD_BYTES, f"field {part.name}")).decode("utf-8")
            except UnicodeDecodeError:
                raise BadCampaign(f"field {part.name} is not UTF-8 text", field=part.name) from None
    if data is None:
        raise BadCampaign("upload the number list (CSV) in a part named file", field="file")
    try:
        return fields, rules.decode_list(data)
    except ValueError as exc:
        raise BadCampaign(str(exc), field="file") from None


async def _limited(source: StreamReader | BodyPartReader, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await (source.read_chunk() if isinstance(source, BodyPartReader) else source.read(64 * 1024))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise BadCampaign(f"{what} is over {limit // 1024 // 1024 or 1} MB" if limit >= 1024 * 1024
                              else f"{what} is over {limit // 1024} KiB")
        chunks.append(chunk)


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "campaigns.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/campaigns", page)
    app.router.add_static("/campaigns/static", STATIC)
    app.router.add_get("/api/campaigns", listing)
    app.router.add_post("/api/campaigns", create)
    app.router.add_get("/api/campaigns/{campaign_id}", detail)
    app.router.add_post("/api/campaigns/{campaign_id}/{action:start|pause|resume|cancel}", act)
    app.router.add_get("/api/campaigns/{campaign_id}/results.csv", results_csv)
    app.router.add_get("/api/campaigns/{campaign_id}/answers.csv", answers_csv)
    app.router.add_get("/api/campaigns/{campaign_id}/events", events)
