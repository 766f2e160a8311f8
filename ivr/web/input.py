"""Input the database cannot hold, refused at the edge with a 4xx that names it, instead of a 500 from PostgreSQL.

- A path parameter named `id` or `…_id`, with no pattern of its own, is a row id: a whole number from 0 to
  2147483647 (PostgreSQL's integer). Anything else is 400 `bad-id` before the handler runs, for every route, the
  future ones too; an id in range that names no row stays the feature's 404. Handlers read it with `int_param`,
  which also parses numeric query parameters. (A route that means something else by an id gives it a pattern:
  Open311's public ids are `{id:[^/]+?}`.)
- A NUL character in a path or query parameter of the staff API is 400 naming the parameter (PostgreSQL refuses NUL
  in text). Kannel's and Open311's calls decide for themselves (ivr/sms, ivr/open311).
- A malformed multipart part (a NUL or a line break in its headers) is 400, not aiohttp's 500.
- Last resort: a value the database still refuses as data (too long, out of range, NUL) is 400 `bad-input` with a
  log line, never a 500; a conflict or an unreachable database keep their 409 and 503 (ivr/web/auth.py).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import AbstractResource
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError, StatementError

from ivr.agents.errors import AgentError
from ivr.db.limits import INT_MAX, NUL
from ivr.web.auth import AGENT_ID, USER_ID

logger = logging.getLogger(__name__)
DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only: str.isdigit() takes "²" and "١", which int() refuses or misreads
DEFAULT_PATTERN = "[^{}/]+"  # aiohttp's for a {name} without a pattern of its own
DATA_EXCEPTION_CLASS = "22"  # SQLSTATE class 22, data exception: too long, out of range, NUL, bad date


class BadInput(AgentError):
    error_id = "bad-input"


class BadId(AgentError):
    error_id = "bad-id"


class TooLarge(AgentError):
    status = 413
    error_id = "too-large"


def row_ids(resource: AbstractResource | None) -> list[str]:
    """The path parameters of a route that are row ids."""
    info = resource.get_info() if resource is not None else {}
    return _row_ids(info["pattern"]) if "pattern" in info else []


@functools.cache
def _row_ids(pattern: re.Pattern[str]) -> list[str]:
    return [name for name in pattern.groupindex if is_id(name) and f"(?P<{name}>{DEFAULT_PATTERN})" in pattern.pattern]


def is_id(name: str) -> bool:
    return name == "id" or name.endswith("_id")


def int_param(request: web.Request, name: str, default: int | None = None, low: int = 0, high: int = INT_MAX,
              error: type[AgentError] = BadId) -> int:
    """A whole number from the route's {name}, or else from the query (`default` when absent there)."""
    text = request.match_info.get(name, request.query.get(name))
    if text is None and default is not None:
        return default
    if text is None or not DIGITS.fullmatch(text) or not low <= int(text) <= high:
        shown = "nothing" if text is None else repr(text[:40])
        raise error(f"{name} must be a whole number from {low} to {high}, not {shown}", field=name)
    return int(text)


def refuse_nul(values: Iterable[tuple[str, str]], error: type[AgentError] = BadInput) -> None:
    """Refuse the first (name, text) pair whose text holds a NUL character, naming it."""
    for name, value in values:
        if NUL in value:
            raise error(f"{name} contains a NUL character, which cannot be stored", field=name)


@web.middleware
async def input_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    for name in row_ids(request.match_info.route.resource):
        int_param(request, name)
    if AGENT_ID in request or USER_ID in request:
        refuse_nul(request.match_info.items())
        refuse_nul(request.query.items())
    try:
        return await handler(request)
    except BadHttpMessage as exc:  # a multipart part's headers, parsed only when the handler reads them
        raise BadInput(f"the request is malformed: {exc.message[:200]}") from None
    except (StatementError, OverflowError) as exc:
        if not is_refused_data(exc):
            raise
        logger.warning("%s %s: the database refused a value: %s", request.method, request.path, _reason(exc))
        raise BadInput("a value in the request cannot be stored (too long, out of range or with a NUL character)"
                       ) from None


def is_refused_data(exc: BaseException) -> bool:
    """The database (or its driver) refused a value as data, rather than being away or finding a conflict."""
    if isinstance(exc, IntegrityError | OperationalError | InterfaceError):
        return False
    if isinstance(exc, DataError | OverflowError):  # OverflowError: SQLite's integer, a date out of range
        return True
    if not isinstance(exc, DBAPIError):  # a StatementError of SQLAlchemy's own: a value it could not bind
        return True
    return any(isinstance(cause, OverflowError | ValueError)  # asyncpg's own check of a parameter
               or str(getattr(cause, "sqlstate", "")).startswith(DATA_EXCEPTION_CLASS) for cause in _causes(exc))


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _reason(exc: BaseException) -> str:
    """The chain of errors by type and SQLSTATE: never their text, which can quote the statement's values (a
    citizen's words)."""
    return " <- ".join(type(cause).__name__ + (f" {cause.sqlstate}" if hasattr(cause, "sqlstate") else "")
                       for cause in _causes(exc))
