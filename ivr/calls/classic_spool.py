"""Call records left by the classic AGI scripts (agi_scripts/) while our FastAGI server was unreachable."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path

from ivr.calls.columns import bounded
from ivr.calls.store import CallWriter
from ivr.calls.tracker import Row

logger = logging.getLogger(__name__)


def read_rows(directory: Path) -> list[tuple[Path, Row]]:
    """Every complete file in `directory`, in the order written (a call's intake before its end)."""
    found: list[tuple[Path, Row]] = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            row = {key: datetime.fromisoformat(v) if key.endswith("_at") else v for key, v in data.items()}
            if not isinstance(row.get("uniqueid"), str):
                raise ValueError("no uniqueid")
        except (OSError, ValueError) as exc:
            rejected = path.with_suffix(".rejected")
            path.rename(rejected)
            logger.error("classic AGI record %s is unreadable (%s); kept as %s", path.name, exc, rejected.name)
            continue
        found.append((path, bounded(row)))
    return found


async def take_in(directory: Path, writer: CallWriter, interval: float = 2.0) -> None:
    """Feed the records to the writer; delete each file only once its row is in the database."""
    while True:
        batch = await asyncio.to_thread(read_rows, directory)
        for _path, row in batch:
            writer.submit(row)
        if batch and await writer.drain(timeout=30):
            await asyncio.to_thread(_remove, [path for path, _row in batch])
            for _path, row in batch:
                logger.info("[%s] call record from the classic AGI fallback taken in", row["uniqueid"])
        await asyncio.sleep(interval)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
