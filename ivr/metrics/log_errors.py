"""Error log records counted by logger, for /metrics: an error logged anywhere shows as a rising counter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter


class ErrorCounter(logging.Handler):
    def __init__(self, counter: Counter) -> None:
        super().__init__(logging.ERROR)
        self.counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        self.counter.labels(record.name).inc()


@contextmanager
def counting_errors(counter: Counter, logger: logging.Logger | None = None) -> Iterator[ErrorCounter]:
    """Count ERROR and above reaching `logger` (the root: every logger that propagates) while inside."""
    target = logger or logging.getLogger()
    handler = ErrorCounter(counter)
    target.addHandler(handler)
    try:
        yield handler
    finally:
        target.removeHandler(handler)
