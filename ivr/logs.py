"""Log output: the familiar text lines, or one JSON object a line for a log collector (settings.log_format).

A call's records carry its Asterisk unique id without every log call passing it: the FastAGI server sets
`call_id` for the duration of a connection's handler, and the JSON formatter reads it (docs/operations.md).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The unique id of the call whose FastAGI handler this task runs (tasks it starts inherit it).
call_id: ContextVar[str | None] = ContextVar("call_id", default=None)

# What every LogRecord has: anything else on a record came from `extra=` and goes into the JSON object.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """time (ISO 8601, UTC), level, logger, message, uniqueid, exception, stack, then the `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        uniqueid = getattr(record, "uniqueid", None) or call_id.get()
        if uniqueid:
            body["uniqueid"] = uniqueid
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            body["exception"] = record.exc_text
        if record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in body:
                body[key] = value
        # default=str: an extra field of any type is written rather than losing the whole line.
        return json.dumps(body, ensure_ascii=False, default=str)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level: str, log_format: str, stream: TextIO | None = None) -> None:
    """Logging for a `hotline` command: records at `level` and above to stderr, as text or JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    logging.basicConfig(level=level, handlers=[handler])
