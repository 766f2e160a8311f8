"""Sessions for the web desk: an HMAC-signed cookie naming the agent, and JSON errors as data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from ivr.agents.errors import AgentError

COOKIE = "hotline_session"
SESSION_SECONDS = 12 * 3600  # one shift
AGENT_ID = web.RequestKey("agent_id", str)
OPEN_PATHS = {("POST", "/api/session"), ("GET", "/healthz")}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def issue_token(secret: str, agent_id: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_SECONDS)
    payload = f"{agent_id}.{expires}"
    return f"{payload}.{_sign(secret, payload)}"


def check_token(secret: str, token: str, now: float | None = None) -> str | None:
    """The agent id in a valid, unexpired token; None otherwise."""
    agent_id, _, rest = token.partition(".")
    expires, _, signature = rest.partition(".")
    if not (agent_id and expires.isdigit() and signature):
        return None
    if not hmac.compare_digest(signature.encode(), _sign(secret, f"{agent_id}.{expires}").encode()):
        return None
    return agent_id if int(expires) > (now or time.time()) else None


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def error_response(status: int, error_id: str, message: str, details: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error_id": error_id, "message": message, "details": details or {}}, status=status)


def auth_middleware(secret: str) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(("/api/", "/ws")) and (request.method, request.path) not in OPEN_PATHS:
            agent_id = check_token(secret, request.cookies.get(COOKIE, ""))
            if agent_id is None:
                return error_response(401, "not-authenticated", "log in first")
            request[AGENT_ID] = agent_id
        try:
            return await handler(request)
        except AgentError as exc:
            return error_response(exc.status, exc.error_id, str(exc), exc.details)

    return middleware
