"""Reading a JSON object from a request, with the feature's own error class for what is wrong with it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ivr.agents.errors import AgentError

MAX_JSON_BYTES = 256 * 1024


async def json_object(request: web.Request, error: type[AgentError], max_bytes: int = MAX_JSON_BYTES
                      ) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > max_bytes:
        raise error(f"the request body is over {max_bytes // 1024} KiB")
    try:
        data = await request.json()
    except ValueError:  # not JSON, or not UTF-8
        raise error("the request body is not JSON") from None
    if not isinstance(data, dict):
        raise error("the request body must be a JSON object")
    return data
