"""Web sessions: an HMAC-signed cookie naming an agent (PIN log-in) or a user (password log-in), a CSRF token
for every change, and JSON errors as data.

CSRF: the session cookie is HttpOnly and SameSite=Strict; on top of that every POST, PUT, PATCH and DELETE must
carry the session's CSRF token in the X-CSRF-Token header. The token is an HMAC of the session token, handed
out at log-in (in the answer and in a script-readable cookie), so a page on another site can neither read nor
forge it.

A session is `subject.expires.session_id.signature`. Logging out records the session id as revoked in the
database (ivr/web/logins.py), so a copy of the cookie is refused from then on, on every server. With
web.secure_cookies the cookies are sent over HTTPS only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Middleware
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from ivr.agents.errors import AgentError, TooManyAttempts
from ivr.web.logins import LOGINS

logger = logging.getLogger(__name__)
COOKIE = "hotline_session"
CSRF_COOKIE = "hotline_csrf"
CSRF_HEADER = "X-CSRF-Token"
USER_PREFIX = "user:"  # a session subject that is a web user (department, supervisor, administrator), not an agent
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_SECONDS = 12 * 3600  # one shift
AGENT_ID = web.RequestKey("agent_id", str)
USER_ID = web.RequestKey("user_id", str)
OPEN_PATHS = {("POST", "/api/session"), ("POST", "/api/portal/session"), ("GET", "/healthz"),
              # Kannel's calls: its token is checked by the handlers (ivr/sms/routes.py)
              ("GET", "/api/sms/incoming"), ("POST", "/api/sms/incoming"), ("GET", "/api/sms/dlr")}
# The wallboard's snapshot and stream: a hall screen opens them with the display key, not a session; the handlers
# check the key or the session themselves (ivr/wallboard/routes.py).
OPEN_PATHS |= {("GET", "/api/wallboard"), ("GET", "/api/wallboard/events")}
# What a web user (not an agent) may reach; the desk's seat and call routes are for agents.
USER_PATHS = ("/api/orders", "/api/portal", "/api/knowledge", "/api/catalogue", "/api/departments", "/api/campaigns",
              "/api/reports", "/api/staffing")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Session:
    subject: str  # an agent id, or USER_PREFIX and a user name
    session_id: str
    expires: int  # Unix time


SESSION = web.RequestKey("session", Session)


def issue_token(secret: str, agent_id: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_SECONDS)
    payload = f"{agent_id}.{expires}.{secrets.token_urlsafe(12)}"
    return f"{payload}.{_sign(secret, payload)}"


def read_token(secret: str, token: str, now: float | None = None) -> Session | None:
    """The session of a valid, unexpired token; None otherwise (revocation is checked by the middleware)."""
    payload, _, signature = token.rpartition(".")
    rest, _, session_id = payload.rpartition(".")
    subject, _, expires = rest.rpartition(".")  # the subject may hold dots (user names such as urban.li)
    if not (subject and expires.isdigit() and session_id and signature):
        return None
    if not hmac.compare_digest(signature.encode(), _sign(secret, payload).encode()):
        return None
    return Session(subject, session_id, int(expires)) if int(expires) > (now or time.time()) else None


def check_token(secret: str, token: str, now: float | None = None) -> str | None:
    """The agent id in a valid, unexpired token; None otherwise."""
    session = read_token(secret, token, now)
    return session.subject if session else None


def csrf_token(secret: str, session_token: str) -> str:
    return _sign(secret, "csrf." + session_token)


def session_response(secret: str, subject: str, body: dict[str, object], secure: bool = False) -> web.Response:
    """The log-in answer: the body with the CSRF token in it, the session and CSRF cookies set."""
    token = issue_token(secret, subject)
    csrf = csrf_token(secret, token)
    response = web.json_response({**body, "csrf": csrf})
    response.set_cookie(COOKIE, token, max_age=SESSION_SECONDS, httponly=True, samesite="Strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=SESSION_SECONDS, httponly=False, samesite="Strict",
                        secure=secure)
    return response


async def log_out(request: web.Request) -> web.Response:
    """Ends the request's session here and on every server: its id is recorded as revoked."""
    session = request[SESSION]
    await request.app[LOGINS].revocations.revoke(session.session_id, datetime.fromtimestamp(session.expires, UTC))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE)
    response.del_cookie(CSRF_COOKIE)
    return response


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def error_response(status: int, error_id: str, message: str, details: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error_id": error_id, "message": message, "details": details or {}}, status=status)


def auth_middleware(secret: str) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.path.startswith(("/api/", "/ws")) and (request.method, request.path) not in OPEN_PATHS:
                refusal = await _authenticate(request, secret)
                if refusal is not None:
                    return refusal
            return await handler(request)
        except AgentError as exc:
            response = error_response(exc.status, exc.error_id, str(exc), exc.details)
            if isinstance(exc, TooManyAttempts):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except IntegrityError as exc:
            logger.warning("%s %s: %s", request.method, request.path, exc.orig)
            return error_response(409, "conflict", "this would duplicate or break a stored record; reload and retry")
        except (OperationalError, InterfaceError, OSError) as exc:
            logger.warning("%s %s: database unavailable: %s", request.method, request.path, exc)
            return error_response(503, "database-unavailable", "the database is not reachable; nothing was "
                                  "changed, try again in a moment")

    return middleware


async def _authenticate(request: web.Request, secret: str) -> web.Response | None:
    token = request.cookies.get(COOKIE, "")
    session = read_token(secret, token)
    if session is None or await request.app[LOGINS].revocations.revoked(session.session_id):
        return error_response(401, "not-authenticated", "log in first")
    if request.method in UNSAFE_METHODS and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, "").encode(), csrf_token(secret, token).encode()):
        return error_response(403, "csrf", f"the {CSRF_HEADER} header is missing or does not match the session")
    request[SESSION] = session
    subject = session.subject
    if subject.startswith(USER_PREFIX):
        if not request.path.startswith(USER_PATHS):
            return error_response(403, "agents-only", "this part of the API is for agents at their desk")
        request[USER_ID] = subject.removeprefix(USER_PREFIX)
    else:
        request[AGENT_ID] = subject
    return None
