"""Structured logs: the JSON formatter (time, level, logger, message, the call's unique id from the context
variable, exception, `extra=` fields), the FastAGI server setting the unique id for a connection's handler and
the tasks it starts (a scripted fake Asterisk over loopback), and `hotline`'s logging set up as JSON."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ivr.fastagi import AgiCall, FastAgiServer, Router
from ivr.logs import TEXT_FORMAT, JsonFormatter, call_id, formatter_for
from ivr.settings import FastAgiSettings
from tests.unit.test_fastagi_protocol import STEP, environment, free_port

LOGGER = "ivr.test.logs"


class Lines(logging.Handler):
    """Each record as the JSON formatter writes it, parsed back."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def test_a_record_is_one_json_object_with_time_level_logger_and_message(lines: Lines) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    logging.getLogger(LOGGER).warning("市民 %s 来电 %d 次", "13800138000", 3)
    [line] = lines.lines
    assert {k: line[k] for k in ("level", "logger", "message")} == {
        "level": "WARNING", "logger": LOGGER, "message": "市民 13800138000 来电 3 次"}
    assert line["time"].endswith("Z")
    moment = datetime.fromisoformat(line["time"])
    assert moment.tzinfo is not None and before <= moment <= datetime.now(UTC)
    assert "uniqueid" not in line and "exception" not in line, "not on a call's path, nothing went wrong"


def test_the_unique_id_comes_from_the_context_variable(lines: Lines) -> None:
    token = call_id.set("1700000000.42")
    try:
        logging.getLogger(LOGGER).info("on the call")
    finally:
        call_id.reset(token)
    logging.getLogger(LOGGER).info("after it")
    assert [line.get("uniqueid") for line in lines.lines] == ["1700000000.42", None]


def test_exception_text_and_extra_fields_are_included(lines: Lines) -> None:
    when = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    try:
        raise ValueError("bad digit")
    except ValueError:
        logging.getLogger(LOGGER).exception("intake failed", extra={"order_id": 42, "queue": "hotline-general",
                                                                    "at": when, "uniqueid": "1.7"})
    [line] = lines.lines
    assert line["level"] == "ERROR"
    assert line["exception"].startswith("Traceback") and "ValueError: bad digit" in line["exception"]
    assert (line["order_id"], line["queue"], line["at"]) == (42, "hotline-general", str(when))
    assert line["uniqueid"] == "1.7", "an explicit extra uniqueid is kept"
    assert not {"args", "msg", "levelno", "exc_info", "taskName"} & set(line), "LogRecord's own attributes left out"


def test_the_text_format_is_unchanged() -> None:
    formatter = formatter_for("text")
    assert not isinstance(formatter, JsonFormatter) and formatter._fmt == TEXT_FORMAT
    record = logging.LogRecord(LOGGER, logging.INFO, __file__, 1, "[%s] greeted", ("1.1",), None)
    token = call_id.set("1.1")
    try:
        assert formatter.format(record).endswith(f"INFO {LOGGER}: [1.1] greeted")
    finally:
        call_id.reset(token)


async def test_the_fastagi_server_sets_the_unique_id_for_the_handler_and_its_tasks(lines: Lines) -> None:
    logger = logging.getLogger(LOGGER)
    seen: list[str | None] = []

    async def later() -> None:
        logger.info("in a task the handler started")

    async def intake(call: AgiCall, ctx: None) -> None:
        seen.append(call_id.get())
        logger.info("greeting")
        await asyncio.create_task(later())

    router: Router[None] = Router()
    router.add("intake", intake)
    server: FastAgiServer[None] = FastAgiServer(FastAgiSettings(port=free_port()), router, lambda call: None)
    await server.start()
    try:
        for uniqueid in ("1700000000.1", "1700000000.2"):
            reader, writer = await asyncio.open_connection(server.settings.host, server.settings.port)
            writer.write(environment("intake", uniqueid))
            async with asyncio.timeout(STEP):
                assert await reader.read() == b"", "the server closes the connection after the handler"
            writer.close()
    finally:
        await server.stop()
    assert seen == ["1700000000.1", "1700000000.2"]
    assert [(line["message"], line.get("uniqueid")) for line in lines.lines] == [
        ("greeting", "1700000000.1"), ("in a task the handler started", "1700000000.1"),
        ("greeting", "1700000000.2"), ("in a task the handler started", "1700000000.2")]
    assert call_id.get() is None, "the test's own task never had it"


def test_hotline_logs_json_lines_when_log_format_is_json() -> None:
    """`logs.configure` as `hotline` calls it, in a fresh interpreter (pytest has its own logging set up)."""
    program = ("import logging; from ivr import logs; logs.configure('INFO', 'json'); "
               "logging.getLogger('ivr.probe').info('up', extra={'port': 8080}); "
               "logging.getLogger('ivr.probe').debug('below the level')")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30, check=True)
    [line] = [json.loads(text) for text in done.stderr.splitlines()]
    assert {k: line[k] for k in ("level", "logger", "message", "port")} == {
        "level": "INFO", "logger": "ivr.probe", "message": "up", "port": 8080}
