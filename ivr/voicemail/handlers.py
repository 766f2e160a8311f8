"""hotline-voicemail: run by the hang-up handler after a caller left a message; the recording becomes a draft
work order and its transcription job (or waits on disk for the database, see ingest.py)."""

from __future__ import annotations

import asyncio

from ivr.fastagi import AgiCall, Router
from ivr.intake.context import CallContext


async def hotline_voicemail(call: AgiCall, ctx: CallContext) -> None:
    ingester = ctx.services.voicemail
    if ingester is None:
        ctx.log.error("voicemail recorded but not wired in: the recording stays on disk")
        return
    if not await asyncio.to_thread((ingester.folder / f"{call.uniqueid}.wav").is_file) and \
            not await asyncio.to_thread((ingester.archive / f"{call.uniqueid}.wav").is_file):
        ctx.log.info("no voicemail recorded (hung up before the tone)")
        return
    order_id = await ingester.reported(call.uniqueid, call.caller_number or None)
    if order_id is None:
        ctx.log.warning("voicemail kept on disk: it becomes a draft when the database is back")
    else:
        ctx.log.info("voicemail saved as draft work order %s, queued for transcription", order_id)


def register(router: Router[CallContext]) -> None:
    router.add("hotline-voicemail", hotline_voicemail)
