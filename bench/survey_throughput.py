"""Campaign throughput under the outbound cap (issue 6): how many survey calls and SMS the dialer gets through
a minute, against the ceiling the cap allows, with the most calls ever in progress at once.

The dialer, its store and the database are the real ones; Asterisk is replaced by a carrier that answers each
Originate after `--ring` seconds and hangs up `--talk` seconds later (the answers keyed meanwhile), so the
figures are the dialer's own pace, not a phone network's. The baseline is the cap's ceiling in the same run:
cap × 60 / (ring + talk) calls a minute.

    .venv/bin/python -m bench.survey_throughput --numbers 400 --cap 4 --ring 0.5 --talk 1.5
    .venv/bin/python -m bench.survey_throughput --database postgresql+asyncpg://postgres@127.0.0.1/bench_surveys
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from ivr.ami import events
from ivr.db.engine import create_engine, upgrade
from ivr.db.models import Campaign, Survey
from ivr.settings import load_settings
from ivr.surveys.dialer import SurveyDialer
from ivr.surveys.store import SurveyStore


class Carrier:
    """Stands in for Asterisk: every Originate is answered, keyed and hung up after set delays."""

    def __init__(self, ring: float, talk: float) -> None:
        self.ring, self.talk = ring, talk
        self.connected = True
        self.dialer: SurveyDialer | None = None
        self.in_progress = 0
        self.most = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def action(self, fields: Mapping[str, str]) -> None:
        task = asyncio.create_task(self._call(fields["ActionID"], int(fields["Variable"].split("=")[1])))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _call(self, action_id: str, survey_id: int) -> None:
        assert self.dialer is not None
        self.in_progress += 1
        self.most = max(self.most, self.in_progress)
        await asyncio.sleep(self.ring)
        self.dialer.handle(events.ORIGINATE_RESPONSE, {"ActionID": action_id, "Response": "Success"})
        await asyncio.sleep(self.talk)
        await self.dialer.answered(survey_id, {"service": "satisfied", "efficiency": "satisfied"}, action_id)
        self.in_progress -= 1
        self.dialer.handle(events.HANGUP, {"Uniqueid": action_id, "Cause": "16"})


async def campaign(store: SurveyStore, numbers: int, channels: str) -> None:
    now = datetime.now(UTC)
    async with store.engine.begin() as connection:
        campaign_id = (await connection.execute(insert(Campaign).values(
            name="bench", script="public_evaluation", channels=channels, status="running", quotas=json.dumps({}),
            created_by="bench", created_at=now).returning(Campaign.id))).scalar_one()
        await connection.execute(insert(Survey), [dict(
            campaign_id=campaign_id, unit="urban", line=i, number=f"139{i:08d}", script="public_evaluation",
            status="due", next_action="call" if channels.startswith("phone") else "sms", next_at=now, closed_at=now,
            calls=0, texted=False, appeal="none", round=1, created_at=now, updated_at=now) for i in range(numbers)])


async def run(url: str, numbers: int, cap: int, ring: float, talk: float, channels: str) -> tuple[float, int]:
    engine = create_engine(url)
    await upgrade(engine)
    base = load_settings(environ={})
    settings = dataclasses.replace(
        base, sip=dataclasses.replace(base.sip, carrier_contact="sip:127.0.0.2:5060"),
        surveys=dataclasses.replace(base.surveys, max_calls=cap, interval=0.2, windows=("00:00-23:59",)))
    store = SurveyStore(engine)
    await campaign(store, numbers, channels)
    carrier = Carrier(ring, talk)
    done = asyncio.Event()
    finished: set[int] = set()

    async def no_order(order_id: int) -> None:
        return None

    dialer = SurveyDialer(settings, carrier, store, no_order)  # type: ignore[arg-type]
    carrier.dialer = dialer

    def ended(survey: Survey) -> None:
        finished.add(survey.id)  # an answered call ends its survey once, then reports again at its hang-up
        if len(finished) == numbers:
            done.set()

    dialer.ended_listeners.append(ended)
    texted = 0

    def queued() -> None:
        nonlocal texted
        texted += 1
        if texted == numbers:
            done.set()

    dialer.texted_listeners.append(queued)
    started = time.perf_counter()
    task = asyncio.create_task(dialer.run())
    await done.wait()
    elapsed = time.perf_counter() - started
    dialer.stopping = True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.gather(*carrier.tasks)
    await dialer.background.finish(timeout=5)
    await engine.dispose()
    return numbers / elapsed * 60, carrier.most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="", help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--numbers", type=int, default=400)
    parser.add_argument("--cap", type=int, default=4)
    parser.add_argument("--ring", type=float, default=0.5)
    parser.add_argument("--talk", type=float, default=1.5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = arguments.database or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        per_minute, most = asyncio.run(run(url, arguments.numbers, arguments.cap, arguments.ring, arguments.talk,
                                           "phone"))
        ceiling = arguments.cap * 60 / (arguments.ring + arguments.talk)
        print(f"calls: {arguments.numbers} numbers, cap {arguments.cap}, {arguments.ring + arguments.talk:g} s a call")
        print(f"  {per_minute:8.1f} calls/min   ceiling {ceiling:.1f} calls/min ({per_minute / ceiling:.0%})   "
              f"most at once {most} (cap {arguments.cap})")
        sms_url = arguments.database or f"sqlite+aiosqlite:///{Path(folder) / 'bench-sms.db'}"
        sms_per_minute, _ = asyncio.run(run(sms_url, arguments.numbers, arguments.cap, 0, 0, "sms"))
        print(f"SMS:   {sms_per_minute:8.1f} queued/min (each in one transaction with its survey's step)")


if __name__ == "__main__":
    main()
