"""hotline-voicemail: run from the hang-up handler after a caller left a message; the recording becomes a
draft work order (transcription comes later)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ivr.fastagi import AgiCall, Router
from ivr.intake.context import CallContext


async def hotline_voicemail(call: AgiCall, ctx: CallContext) -> None:
    services = ctx.services
    if services.work_orders is None or services.voicemail_dir is None:
        ctx.log.error("voicemail recorded but work orders are not wired: the recording stays on disk")
        return
    recording = services.voicemail_dir / f"{call.uniqueid}.wav"
    if not await asyncio.to_thread(recording.is_file):
        ctx.log.info("no voicemail recorded (hung up before the tone)")
        return
    await services.work_orders.add_voicemail_draft(call.caller_number, call.uniqueid, str(recording),
                                                   datetime.now(UTC))
    ctx.log.info("voicemail %s saved as a draft work order", recording.name)


def register(router: Router[CallContext]) -> None:
    router.add("hotline-voicemail", hotline_voicemail)
