"""Feature codes on a seat's own phone: *21 then 工号# and PIN logs the agent in; *23 pauses; *22 logs out."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr import keys
from ivr.democall import Sipp
from tests.helpers import AGENT_IP, Hotline, run_sipp, wait

pytestmark = pytest.mark.asterisk

INVITE = """
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      {auth}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=seat 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>"""
IN_DIALOG = """
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Max-Forwards: 70"""


def ack(uri: str, cseq: int) -> str:
    return (f"<send><![CDATA[\n      ACK {uri} SIP/2.0"
            + IN_DIALOG.format(to_tag="[peer_tag_param]", cseq=cseq, method="ACK")
            + "\n      Content-Length: 0\n    ]]></send>")


def seat_dials(code: str, keys_pressed: str, directory: Path) -> Path:
    """A SIPp scenario: the seat's phone dials `code` (with digest auth), presses the keys, waits for BYE."""
    steps = [INVITE.format(cseq=1, auth=""), '<recv response="100" optional="true"/>',
             '<recv response="401" auth="true"/>', ack("sip:[service]@[remote_ip]:[remote_port]", 1),
             INVITE.format(cseq=2, auth="[authentication]"), '<recv response="100" optional="true"/>',
             '<recv response="200" rrs="true"/>', ack("[next_url]", 2)]
    for number, key in enumerate(keys_pressed, start=3):
        # Before the first key, time for the prompt to start; between keys, a person's pace. No pause after
        # the last: the hotline may answer with its BYE at once, and SIPp rejects a BYE during a pause.
        steps.append(f'<pause milliseconds="{1500 if number == 3 else 250}"/>')
        steps.append(
            '<send retrans="500"><![CDATA[\n      INFO [next_url] SIP/2.0'
            + IN_DIALOG.format(to_tag="[peer_tag_param]", cseq=number, method="INFO")
            + f"\n      Content-Type: application/dtmf-relay\n      Content-Length: [len]\n\n      Signal={key}\n"
            "      Duration=120\n    ]]></send>")
        steps.append('<recv response="200"/>')
    steps += ['<recv request="BYE" timeout="30000"/>',
              "<send><![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      [last_To:]\n"
              "      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]></send>"]
    scenario = directory / f"seat_dials_{code.strip('*')}.xml"
    scenario.write_text('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="seat feature code">\n'
                        + "\n".join(steps) + "\n</scenario>\n")
    return scenario


async def press(hotline: Hotline, seat: str, code: str, keys_pressed: str, directory: Path) -> None:
    sipp = Sipp(scenario=str(seat_dials(code, keys_pressed, directory)), target=hotline.sip_target,
                local_ip=AGENT_IP, service=code, username=seat, password=hotline.secrets.seat_passwords[seat],
                timeout_s=40, inject=f"{seat}")
    async with run_sipp(sipp) as phone:
        assert await wait(phone.finished(), 40, f"{code} from seat {seat} did not finish", phone) == 0, phone.errors


async def test_an_agent_logs_in_pauses_and_logs_out_from_the_phone(hotline: Hotline, tmp_path: Path) -> None:
    pin = await hotline.ensure_agent("1041", "钱七")
    assert pin is not None
    store = hotline.app[keys.AGENT_STORE]

    await press(hotline, "8040", "*21", f"1041#{pin}", tmp_path)
    presence = (await store.presence())["1041"]
    assert (presence.seat, presence.paused) == ("8040", False)

    await press(hotline, "8040", "*23", "", tmp_path)
    presence = (await store.presence())["1041"]
    assert (presence.paused, presence.reason) == (True, "break")

    await press(hotline, "8040", "*22", "", tmp_path)
    assert "1041" not in await store.presence()


async def test_a_wrong_pin_on_the_phone_logs_nobody_in(hotline: Hotline, tmp_path: Path) -> None:
    await hotline.ensure_agent("1042", "孙八")
    await press(hotline, "8039", "*21", "1042#000000", tmp_path)
    assert "1042" not in await hotline.app[keys.AGENT_STORE].presence()
