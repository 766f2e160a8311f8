"""The wallboard over HTTP, for the centre's supervisors and administrators, and for a hall screen by its key.

    GET /wallboard                  the page; a hall screen nobody logs in on opens /wallboard?key=<display key>
    GET /wallboard/static/…         its script, style and the chart library (vendor/)
    GET /api/wallboard              the snapshot (JSON)
    GET /api/wallboard/events       server-sent events: the snapshot at once, then within 200 ms of each change

The two API paths are open in the session middleware (ivr/web/auth.py): `admit` lets in either the display key
(secrets file, `wallboard_key`), which opens these two and nothing else, or a supervisor's or administrator's
session. Only reading is possible here, so no CSRF token is asked for.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from pathlib import Path

from aiohttp import web

from ivr import keys
from ivr.wallboard.errors import BadDisplayKey, NotLoggedIn
from ivr.web.auth import AGENT_ID, COOKIE, USER_ID, USER_PREFIX, check_token
from ivr.web.roles import supervisor

logger = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
KEY_PARAMETER = "key"
# Rules for the page: the key in its address stays out of the Referer of anything it loads, and a screen that
# reloads gets the page again rather than a cached copy with an old script.
PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
STREAM_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
                  "X-Accel-Buffering": "no"}


async def admit(request: web.Request) -> None:
    """The display key when one is given (right or refused: never a fall-back to the session), else the
    session's person, who must be a supervisor or an administrator."""
    if KEY_PARAMETER in request.query:
        _check_key(request.query[KEY_PARAMETER], request.app[keys.SECRETS].wallboard_key)
        return
    subject = check_token(request.app[keys.SECRETS].web_secret, request.cookies.get(COOKIE, ""))
    if subject is None:
        raise NotLoggedIn("log in first, or open the wallboard with its display key")
    if subject.startswith(USER_PREFIX):
        request[USER_ID] = subject.removeprefix(USER_PREFIX)
    else:
        request[AGENT_ID] = subject
    await supervisor(request, "the wallboard is for the centre's supervisors and administrators")


def _check_key(given: str, expected: str) -> None:
    # An installation whose secrets predate the key has none: nothing opens the wallboard without a session.
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise BadDisplayKey("this display key is not the wallboard's; see docs/wallboard.md for the right one")


async def current(request: web.Request) -> web.Response:
    await admit(request)
    return web.json_response(await request.app[keys.WALLBOARD].current(), headers={"Cache-Control": "no-store"})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events `snapshot`; the page's EventSource connects again by itself (after a restart too)."""
    await admit(request)
    response = web.StreamResponse(headers=STREAM_HEADERS)
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    updates = request.app[keys.WALLBOARD].updates()
    async with contextlib.aclosing(updates):
        try:
            async for data in updates:
                await response.write(data)
        except ConnectionResetError:
            pass  # the screen was closed
    return response


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "wallboard.html", headers=PAGE_HEADERS)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/wallboard", page)
    app.router.add_static("/wallboard/static", STATIC)
    app.router.add_get("/api/wallboard", current)
    app.router.add_get("/api/wallboard/events", events)
