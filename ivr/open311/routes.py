"""Open311 GeoReport v2 at /open311/v2/ (JSON only): discovery, services, filing requests and following them.

Paths take the spec's .json suffix or none; .xml is answered with a 400 saying that only JSON is served.
Filing needs an API key (`hotline apikey add NAME`) and is rate limited per client and per address; reading is
public and shows no citizen. A filed request is a draft: an agent checks it and accepts it (or discards it)
like any citizen submission; it is followed by its random public id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ivr import keys
from ivr.agents.errors import AgentError
from ivr.open311.api_keys import ApiKeyStore
from ivr.open311.errors import BadField, KeyRefused, NotFound, NotServed
from ivr.open311.public import NOTICES, PublicRequests, parse_filter, refuse_nul
from ivr.open311.rate_limit import PostLimit
from ivr.open311.submission import Submission, parse_submission, read_fields
from ivr.web.auth import Handler
from ivr.workorders.actors import API, Actor
from ivr.workorders.service import Intake
from routing import lifecycle
from routing.catalogue import suggest_type

PREFIX = "/open311/v2"
SUFFIX = r"{format:(?:\.json|\.xml)?}"
CHANGESET = "2026-11-25T00:00:00Z"  # when this endpoint's behaviour last changed (the discovery document)
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


@web.middleware
async def spec_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error in the spec's format: [{"code": status, "description": what was wrong}]."""
    try:
        return await handler(request)
    except AgentError as exc:
        retry_after = exc.details.get("retry_after")
        return error(exc.status, str(exc), {"Retry-After": retry_after} if retry_after else None)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error(exc.status, f"{exc.reason}: {request.method} {request.path}")


def error(status: int, description: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response([{"code": status, "description": description}], status=status, headers=headers)


def _json_only(request: web.Request) -> None:
    if request.match_info.get("format") == ".xml":
        raise NotServed("only JSON is served here: use the .json suffix (or none)")


# Discovery and services


async def discovery(request: web.Request) -> web.Response:
    _json_only(request)
    return web.json_response({
        "changeset": CHANGESET,
        "contact": "12345 政务服务便民热线",
        "key_service": "API keys are issued by the hotline's administrators (hotline apikey add NAME)",
        "endpoints": [{"specification": SPECIFICATION, "url": f"{request.url.origin()}{PREFIX}",
                       "changeset": CHANGESET, "type": "production", "formats": ["application/json"]}],
    })


async def services(request: web.Request) -> web.Response:
    _json_only(request)
    directory = request.config_dict[keys.DIRECTORY]
    groups = await directory.catalogue_groups()
    departments = {d.code: d.name for d in await directory.departments()}
    return web.json_response([{
        "service_code": entry.code,
        "service_name": entry.topic,
        "description": f"{entry.topic}（{departments.get(entry.department, entry.department)}办理）",
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(entry.keywords),
        "group": groups.get(entry.code, ""),
    } for entry in await directory.catalogue()])


async def service_definition(request: web.Request) -> web.Response:
    _json_only(request)
    code = request.match_info["code"]
    if code not in await _service_codes(request):
        raise NotFound(f"no service {code!r}: see {PREFIX}/services.json")
    return web.json_response({"service_code": code, "attributes": []})


async def _service_codes(request: web.Request) -> set[str]:
    return {entry.code for entry in await request.config_dict[keys.DIRECTORY].catalogue()}


# Requests


async def file_request(request: web.Request) -> web.Response:
    """Counted against the address's limit first (every POST, a key guesser's too), then the client's."""
    _json_only(request)
    limit = PostLimit(request.config_dict[keys.ENGINE], request.config_dict[keys.SETTINGS].open311)
    await limit.by_address(request.remote, datetime.now(UTC))
    fields = await read_fields(request)
    client = await _client(request, fields.get("api_key", "").strip())
    await limit.by_client(client, datetime.now(UTC))
    submission = parse_submission(fields)
    if submission.service_code not in await _service_codes(request):
        raise BadField(f"service_code {submission.service_code[:40]!r} is not a service here: see "
                       f"{PREFIX}/services.json")
    order = await request.config_dict[keys.ORDERS].create(_intake(submission, client), Actor(client, API),
                                                          datetime.now(UTC))
    return web.json_response([{
        "service_request_id": order.public_id,
        "service_notice": f"{NOTICES[lifecycle.DRAFT]}；凭编号 {order.public_id} 查询办理进度",
        "account_id": None,
    }], status=201)


async def _client(request: web.Request, key: str) -> str:
    if not key:
        raise KeyRefused("api_key is required to file a request")
    client = await ApiKeyStore(request.config_dict[keys.ENGINE]).client(key)
    if client is None:
        raise KeyRefused("api_key is not valid (unknown or revoked)")
    return client


def _intake(submission: Submission, client: str) -> Intake:
    """A draft for an agent to check: the centre reads every citizen submission before it becomes an order.
    Published: the citizen filed it on the public API, to be followed there."""
    return Intake(
        channel="api", accepted=False, published=True, client=client, type=suggest_type(submission.description),
        topic=submission.service_code, caller_number=submission.phone, citizen_name=submission.citizen_name,
        content=submission.description, address=submission.address, lat=submission.lat, long=submission.long,
        details=submission.details)


async def requests_list(request: web.Request) -> web.Response:
    _json_only(request)
    wanted = parse_filter(request.query, datetime.now(UTC))
    return web.json_response(await _public(request).find(wanted))


async def one_request(request: web.Request) -> web.Response:
    _json_only(request)
    public_id = request.match_info["id"]
    refuse_nul("service_request_id", public_id)
    found = await _public(request).one(public_id)
    if found is None:
        raise NotFound(f"no request {public_id[:40]}")
    return web.json_response([found])


def _public(request: web.Request) -> PublicRequests:
    return PublicRequests(request.config_dict[keys.ENGINE], request.config_dict[keys.SETTINGS].timezone)


def setup_routes(app: web.Application) -> None:
    api = web.Application(middlewares=[spec_errors])
    api.router.add_get("/discovery" + SUFFIX, discovery)
    api.router.add_get("/services" + SUFFIX, services)
    api.router.add_get("/services/{code:[^/]+?}" + SUFFIX, service_definition)
    api.router.add_get("/requests" + SUFFIX, requests_list)
    api.router.add_post("/requests" + SUFFIX, file_request)
    api.router.add_get("/requests/{id:[^/]+?}" + SUFFIX, one_request)
    app.add_subapp(PREFIX, api)

