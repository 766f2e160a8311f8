"""Voicemail instead of waiting: the caller speaks, the recording is on disk, audible, and a draft work order
points at it."""

from __future__ import annotations

import asyncio
import re
import struct
import subprocess
from pathlib import Path

import pytest

from ivr import keys
from ivr.workorders.store import WorkOrderStore
from tests.helpers import Hotline, wait

pytestmark = pytest.mark.asterisk
CALLER = "13800138999"
SPOKEN = "你好，我家门口的路灯坏了，晚上很黑，请尽快派人修理。"
FRAME = 160  # 20 ms of 8 kHz μ-law


def speech_pcap(directory: Path) -> tuple[Path, float]:
    """The citizen's words as RTP packets (PCMU) in a pcap file for SIPp's play_pcap_audio; and their length."""
    spoken, ulaw = directory / "spoken.wav", directory / "spoken.ul"
    subprocess.run(["espeak-ng", "-v", "cmn", "-s", "170", "-w", str(spoken), SPOKEN], check=True)
    subprocess.run(["sox", str(spoken), "-r", "8000", "-c", "1", "-t", "ul", str(ulaw)], check=True)
    audio = ulaw.read_bytes()
    packets = [audio[i:i + FRAME].ljust(FRAME, b"\xff") for i in range(0, len(audio), FRAME)]
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
    return path, len(audio) / 8000


def scenario(directory: Path, pcap: Path, speech_ms: int) -> Path:
    """citizen_rates.xml's call, but after pressing 2 the citizen speaks after the tone, then hangs up."""
    template = (Path(__file__).parents[1] / "sipp" / "citizen_rates.xml").read_text()
    speak = (f'  <pause milliseconds="4000"/>\n  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
             f'  <pause milliseconds="{speech_ms + 500}"/>\n')
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


async def loudness(recording: Path) -> tuple[float, float]:
    """(seconds, RMS amplitude 0..1) as sox measures them."""
    result = await asyncio.to_thread(subprocess.run, ["sox", str(recording), "-n", "stat"],
                                     capture_output=True, text=True, check=True)
    stats = dict(re.findall(r"^(.+?):\s+(\S+)$", result.stderr, flags=re.M))
    return float(stats["Length (seconds)"]), float(stats["RMS     amplitude"])


async def test_a_voicemail_is_recorded_audibly_and_becomes_a_draft_work_order(
    hotline: Hotline, tmp_path: Path
) -> None:
    pcap, seconds = await asyncio.to_thread(speech_pcap, tmp_path)
    citizen_script = scenario(tmp_path, pcap, int(seconds * 1000))
    async with hotline.agent("8038"):
        await hotline.app[keys.AGENT_SERVICE].pause("1038", "training")  # nobody free: the offer comes
        finished = hotline.expect_finished_call()
        citizen = await hotline.citizen_call("12345", 13_000, caller=CALLER, scenario=str(citizen_script),
                                             digit="2")
        assert citizen.process.returncode == 0, citizen.errors
        row = await wait(finished, 15, "the call did not reach the database")
    call = await hotline.stored_call(row["uniqueid"])
    assert call.outcome == "voicemail"
    # Asterisk runs the hang-up handler (our AGI that writes the draft) before it reports the Hangup.
    order = await WorkOrderStore(hotline.app[keys.ENGINE]).for_call(call.uniqueid)
    assert order is not None, "no draft work order for the voicemail"
    assert (order.status, order.source, order.caller_number) == ("draft", "voicemail", CALLER)
    recording = Path(order.audio_path or "")
    assert recording == hotline.asterisk.layout.host("voicemail") / f"{call.uniqueid}.wav"
    assert await asyncio.to_thread(recording.is_file)
    length, rms = await loudness(recording)
    assert length >= seconds * 0.6, f"{length:.1f} s recorded of {seconds:.1f} s spoken"
    assert rms > 0.02, f"RMS amplitude {rms}: silence, not speech"
