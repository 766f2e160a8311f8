"""Reading a JSON object from a request, with the feature's own error class for what is wrong with it.

Everything in it must fit the database: no NUL character in any text (PostgreSQL refuses it), no integer beyond
PostgreSQL's, and each field named in `limits` (a column's length, from ivr.db.limits) no longer than its column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ivr.agents.errors import AgentError
from ivr.db.limits import check_lengths, check_storable

MAX_JSON_BYTES = 256 * 1024


async def json_object(request: web.Request, error: type[AgentError], max_bytes: int = MAX_JSON_BYTES,
                      limits: Mapping[str, int] | None = None) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > max_bytes:
        raise error(f"the request body is over {max_bytes // 1024} KiB")
    try:
        data = await request.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested deeper than the parser goes
        raise error("the request body is not JSON") from None
    if not isinstance(data, dict):
        raise error("the request body must be a JSON object")
    check_storable(data, error)
    check_lengths(data, limits or {}, error)
    return data

