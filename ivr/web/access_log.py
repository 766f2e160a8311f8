"""The HTTP access log (logger `aiohttp.access`) without the values of query strings: Kannel calls us with the SMS
token, the citizen's number and the text in the query (`/api/sms/incoming?token=…&from=…&text=…`), the hall screen
opens `/wallboard?key=…`, and a page's address comes back in the Referer of the requests it makes. A line keeps the
parameters' names (`GET /api/sms/incoming?token&from&to&text&coding&at&smsc&id HTTP/1.1`), enough to see which
call it was, and aiohttp's `extra` fields (which a JSON log would carry, with the whole query) are not passed."""

from __future__ import annotations

import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,39}")  # what a parameter's name looks like, not a value sent as one
HIDDEN_NAME = "…"


def without_values(target: str) -> str:
    """A path or URL with only the names of its query's parameters: `/api/sms/dlr?token&id&status`."""
    path, _, query = target.partition("?")
    names = [pair.partition("=")[0] for pair in query.partition("#")[0].split("&") if pair]
    shown = [name if _NAME.fullmatch(name) else HIDDEN_NAME for name in names]
    return path + ("?" + "&".join(shown) if shown else "")


class AccessLogger(AbstractAccessLogger):
    """aiohttp's line (Apache's combined format but the time, which the log record has) with `without_values`
    applied to the request line and the Referer."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info('%s "%s %s HTTP/%d.%d" %d %d %.3fs "%s" "%s"', request.remote or "-", request.method,
                         without_values(request.raw_path), request.version.major, request.version.minor,
                         response.status, response.body_length, time,
                         without_values(request.headers.get("Referer", "-")),
                         request.headers.get("User-Agent", "-"))
