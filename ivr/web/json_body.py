"""Reading a JSON object from a request, with the feature's own error class for what is wrong with it.

Everything in it must fit the database: no NUL character in any text (PostgreSQL refuses it), no integer beyond
PostgreSQL's, and each field named in `limits` (a column's length, from ivr.db.limits) no longer than its column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ivr.agents.errors import AgentError
from ivr.db.limits import INT_MAX
from ivr.web.input import NUL

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


def check_storable(data: dict[str, Any], error: type[AgentError]) -> None:
    """Refuse the first text with a NUL character and the first integer the database cannot hold, naming where."""
    stack: list[tuple[str, Any]] = list(reversed(data.items()))  # popped in the body's order
    while stack:
        path, value = stack.pop()
        if NUL in path:
            raise error("a field name contains a NUL character", field=path)
        if isinstance(value, str) and NUL in value:
            raise error(f"{path} contains a NUL character, which cannot be stored", field=path)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT_MAX:
            raise error(f"{path} is beyond the largest number that can be stored ({INT_MAX})", field=path)
        if isinstance(value, dict):
            stack.extend(reversed([(f"{path}.{key}", item) for key, item in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{index}]", item) for index, item in enumerate(value)]))


def check_lengths(data: Mapping[str, Any], limits: Mapping[str, int], error: type[AgentError]) -> None:
    """Refuse a text longer than its column (compared as stored: without surrounding spaces)."""
    for name, limit in limits.items():
        value = data.get(name)
        if isinstance(value, str) and len(value.strip()) > limit:
            raise error(f"{name} is {len(value.strip())} characters long; at most {limit} are kept", field=name,
                        limit=str(limit))
