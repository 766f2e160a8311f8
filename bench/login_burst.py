"""How long an agent's right log-in takes while bad log-ins hash at the same time (issue 15, hole 7).

A desk server on SQLite with the production argon2 cost (64 MiB, 3 passes): one right PIN log-in alone, then the
same while 24 wrong-PIN log-ins run at once: at one agent id from one address and from 24 addresses, and at 24 ids
from 24 addresses (X-Forwarded-For from a trusted proxy). Prints the right log-in's time, the median of `--rounds` runs.

    python -m bench.login_burst [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr import keys
from ivr.agents.store import AgentStore
from ivr.db.engine import create_engine, upgrade
from ivr.desk import routes as desk_routes
from ivr.secrets import Secrets
from ivr.settings import Settings, WebSettings
from ivr.web import passwords
from ivr.web.auth import auth_middleware
from ivr.web.logins import LOGINS, Logins
from ivr.web.proxies import forwarded_client

BAD = 24


async def right_login_seconds(client: TestClient[web.Request, web.Application], pins: dict[str, str],
                              attackers: list[tuple[str, str]]) -> float:
    async def bad(address: str, agent_id: str) -> None:
        await client.post("/api/session", json={"agent_id": agent_id, "pin": "000000"},
                          headers={"X-Forwarded-For": address})

    burst = [asyncio.create_task(bad(address, agent_id)) for address, agent_id in attackers]
    await asyncio.sleep(0.05)  # the burst is hashing when the agent logs in
    started = time.perf_counter()
    response = await client.post("/api/session", json={"agent_id": "1002", "pin": pins["1002"]},
                                 headers={"X-Forwarded-For": "192.0.2.1"})
    took = time.perf_counter() - started
    assert response.status == 200, await response.text()
    await asyncio.gather(*burst)
    return took


async def main(rounds: int) -> None:
    settings = Settings(web=WebSettings(trusted_proxies=("127.0.0.1",)))
    passwords.configure(settings.web.password_memory_kib, settings.web.password_time_cost)
    print(f"argon2id {settings.web.password_memory_kib} KiB, {settings.web.password_time_cost} passes; "
          f"{BAD} wrong log-ins at once; the right log-in's median of {rounds}")
    scenarios = {"alone": [], "24 from one address": [("203.0.113.1", "1001")] * BAD,
                 "24 from 24 addresses": [(f"203.0.113.{n}", "1001") for n in range(1, BAD + 1)],
                 "24 from 24 at 24 ids": [(f"203.0.113.{n}", f"{2000 + n}") for n in range(1, BAD + 1)]}
    for name, attackers in scenarios.items():
        times = []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as directory:
                engine = create_engine(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}")
                await upgrade(engine)
                store = AgentStore(engine)
                pins = {agent_id: await store.add(agent_id, agent_id) for agent_id in ("1001", "1002")}
                app = web.Application(middlewares=[forwarded_client(settings.web.trusted_proxies),
                                                   auth_middleware("bench")])
                app[keys.SETTINGS], app[keys.AGENT_STORE], app[LOGINS] = settings, store, Logins.on(engine)
                app[keys.SECRETS] = Secrets(ami_password="x", seat_passwords={}, web_secret="bench")
                desk_routes.setup_routes(app)
                async with TestClient(TestServer(app)) as client:
                    times.append(await right_login_seconds(client, pins, attackers))
                await engine.dispose()
        print(f"{name:>24}: {statistics.median(times) * 1000:7.0f} ms  (runs: "
              + ", ".join(f"{t * 1000:.0f}" for t in times) + ")")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
