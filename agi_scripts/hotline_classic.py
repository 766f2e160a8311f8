#!/usr/bin/env python3
"""Classic AGI fallback: Asterisk runs this itself when our FastAGI server cannot be reached.

    AGI(.../hotline_classic.py,intake,SPOOL_DIR,SOUNDS_DIR)   greet the caller, record the call's start
    AGI(.../hotline_classic.py,end,SPOOL_DIR)                 from the hang-up handler: record how it ended

Each step writes one JSON file into SPOOL_DIR; the hotline server takes them into the calls table when it
runs (at once if only its FastAGI listener was down, at its next start if the whole server was). So a call
is recorded even while the server is away. Uses pyst2 and the pure outcome rule from routing/, both copied
next to this script when the configuration is rendered.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from asterisk.agi import AGI

from ivr import dialplan_variables as var
from routing.call_outcome import QueueFacts, final_outcome

INTAKE = "classic-agi"


def main(argv: list[str]) -> int:
    agi = AGI()
    mode, spool = argv[1], argv[2]
    uniqueid = agi.env["agi_uniqueid"]
    if mode == "intake":
        write_row(spool, f"{uniqueid}.1-intake.json", intake_row(agi))
        agi.set_variable(var.INTAKE, INTAKE)
        agi.stream_file(os.path.join(argv[3], "greeting"))
        agi.set_variable(var.GREETED, "1")
    elif mode == "end":
        write_row(spool, f"{uniqueid}.2-end.json", end_row(agi))
    else:
        agi.verbose(f"hotline_classic: unknown mode {mode!r}", 1)
        return 2
    return 0


def intake_row(agi: AGI) -> dict[str, Any]:
    return {
        "uniqueid": agi.env["agi_uniqueid"],
        "caller_number": agi.env.get("agi_callerid", ""),
        "dialled_number": agi.env.get("agi_dnid") or agi.env.get("agi_extension", ""),
        "started_at": datetime.now(UTC).isoformat(),
        "intake": INTAKE,
    }


def end_row(agi: AGI) -> dict[str, Any]:
    """How the call ended, from the variables the dialplan and app_queue left on the channel."""
    now = time.time()
    enqueued = _number(agi.get_variable(var.ENQUEUED))
    agent = agi.get_variable(var.MEMBER_NAME) or None
    hold = _number(agi.get_variable(var.HOLD_TIME))
    ended = agi.get_variable(var.QUEUE_ENDED) == "1"
    facts = QueueFacts(
        dialled_hotline=True,
        joined_queue=enqueued is not None,
        answered=agent is not None,
        abandoned=enqueued is not None and agent is None and not ended,
        timed_out=ended,
    )
    row: dict[str, Any] = {
        "uniqueid": agi.env["agi_uniqueid"],
        "ended_at": _iso(now),
        "outcome": final_outcome(facts).value,
    }
    if enqueued is not None:
        row["enqueued_at"] = _iso(enqueued)
        row["wait_seconds"] = hold if hold is not None else round(now - enqueued, 3)
    if agent is not None:
        row["agent"] = agent
        row["seat"] = (agi.get_variable(var.MEMBER_INTERFACE) or "").removeprefix("PJSIP/") or None
        if enqueued is not None and hold is not None:
            row["answered_at"] = _iso(enqueued + hold)
    return row


def write_row(spool: str, name: str, row: dict[str, Any]) -> None:
    """Atomically: the server never reads half a file."""
    os.makedirs(spool, exist_ok=True)
    temporary = os.path.join(spool, f".{name}.tmp")
    with open(temporary, "w") as handle:
        json.dump(row, handle)
    os.replace(temporary, os.path.join(spool, name))


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
