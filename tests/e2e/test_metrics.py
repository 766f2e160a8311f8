"""/metrics while a real citizen (SIPp) calls 12345 through Asterisk and waits in the queue with nobody to answer:
the waiting caller shows in hotline_queue_waiting, and after they hang up the finished-calls counter has one more.
Each change is awaited by scraping again until a deadline, never by a fixed sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import Hotline, wait

pytestmark = pytest.mark.asterisk
GENERAL = "hotline-general"
CALLER = "13900139345"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(session: aiohttp.ClientSession, url: str) -> Samples:
    async with session.get(url) as response:
        text = await response.text()
        assert response.status == 200, text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def finished_calls(samples: Samples) -> float:
    return sum(value for (name, _), value in samples.items() if name == "hotline_calls_finished_total")


async def scrape_until(session: aiohttp.ClientSession, url: str, ready: Callable[[Samples], bool], timeout: float,
                       what: str) -> Samples:
    """Scrape every 0.2 s until `ready`: /metrics is read, not pushed, so there is no event to await."""
    samples: Samples = {}
    try:
        async with asyncio.timeout(timeout):
            while True:
                samples = await scrape(session, url)
                if ready(samples):
                    return samples
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"{what} within {timeout:g} s; last scrape: {sorted(samples.items())}") from None


async def test_metrics_show_the_caller_waiting_then_the_call_finished(hotline: Hotline) -> None:
    url = hotline.web_url + "/metrics"
    async with aiohttp.ClientSession() as session:
        before = await scrape(session, url)
        assert sample(before, "hotline_queue_waiting", queue=GENERAL) == 0
        assert (sample(before, "hotline_ami_connected"), sample(before, "hotline_fastagi_up"),
                sample(before, "hotline_database_up")) == (1, 1, 1)
        finished = hotline.expect_finished_call()
        # Greeting (about 5 s), then the queue with no agent: the caller hangs up after 10 s answered.
        call = asyncio.ensure_future(hotline.citizen_call("12345", hang_up_after_ms=10_000, caller=CALLER))
        waiting = await scrape_until(
            session, url, lambda s: sample(s, "hotline_queue_waiting", queue=GENERAL) == 1, 15,
            "the caller did not show as waiting")
        assert sample(waiting, "hotline_calls_in_progress") == 1
        assert (sample(waiting, "hotline_queue_longest_wait_seconds", queue=GENERAL) or -1) >= 0
        citizen = await wait(call, 20, "the citizen's call did not end")
        assert citizen.process.returncode == 0, citizen.errors
        row = await wait(finished, 15, "the call did not reach the database")
        after = await scrape_until(
            session, url, lambda s: finished_calls(s) == finished_calls(before) + 1, 10,
            "the finished-calls counter did not move")
    assert row["outcome"] == "abandoned"
    assert sample(after, "hotline_calls_finished_total", outcome="abandoned") == \
        (sample(before, "hotline_calls_finished_total", outcome="abandoned") or 0) + 1
    assert sample(after, "hotline_queue_waiting", queue=GENERAL) == 0
    assert sample(after, "hotline_calls_in_progress") == 0
    assert (sample(after, "hotline_fastagi_requests_total", script="hotline-intake", result="ok") or 0) >= 1
    assert sample(after, "hotline_call_writer_backlog") == 0
