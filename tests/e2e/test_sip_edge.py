"""The SIP edge as an attacker sees it: the real Asterisk, SIPp and SIPVicious from other loopback addresses.

127.0.0.2 is the carrier, 127.0.0.1 the agents' network, 127.0.0.4 an insider on the agents' network trying
passwords, 127.0.0.5 a stranger (tests/conftest.py: sip.agent_networks).
"""

from __future__ import annotations

import asyncio
import configparser
import dataclasses
import ipaddress
import os
import re
import shutil
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ivr import keys
from ivr.ami import privileges
from ivr.ami.errors import AmiActionFailed
from ivr.asterisk.render import REPOSITORY, render_config
from ivr.db.models import Call
from ivr.democall import Sipp, free_udp_port
from ivr.settings import Settings
from tests.helpers import AGENT_IP, CARRIER_IP, Hotline, run_sipp, wait

pytestmark = pytest.mark.asterisk

INSIDER_IP = "127.0.0.4"
STRANGER_IP = "127.0.0.5"
FAIL2BAN = REPOSITORY / "deploy" / "fail2ban"
TCP_LISTEN = "0A"  # a listening socket's state in /proc/net/tcp
# What a scanner tries: the carrier, seats that exist, seats and names that do not.
GUESSES = ("carrier", "8001", "8002", "8040", "8099", "1001", "admin", "100")


@pytest.fixture(scope="session")
def attack_tools() -> None:
    """SIPVicious (svwar, svmap) and fail2ban's fail2ban-regex: installed when missing, never skipped."""
    if not all(shutil.which(tool) for tool in ("svwar", "svmap", "fail2ban-regex")):
        subprocess.run(["apt-get", "install", "-y", "-q", "sipvicious", "fail2ban"], check=True)


async def refused(sipp: Sipp) -> None:
    """Runs a SIPp scenario that expects the refusal; fails the test if anything else was answered."""
    async with run_sipp(sipp) as process:
        assert await wait(process.finished(), 20, f"{sipp.scenario} from {sipp.local_ip}", process) == 0, \
            process.errors


def registration(hotline: Hotline, local_ip: str, seat: str, password: str, contact_ip: str, calls: int = 1) -> Sipp:
    return Sipp(scenario="seat_register_refused.xml", target=hotline.sip_target, local_ip=local_ip,
                username=seat, password=password, variables={"seat": seat, "contact_ip": contact_ip},
                calls=calls, timeout_s=15)


async def calls_processed(hotline: Hotline) -> int:
    output = await hotline.asterisk.cli("core show channels count") or ""
    found = re.search(r"(\d+) calls? processed", output)
    assert found, output
    return int(found.group(1))


async def test_a_stranger_calling_as_the_carrier_is_challenged_like_anybody_and_reaches_nothing(
    hotline: Hotline,
) -> None:
    before = await calls_processed(hotline)
    for name in ("carrier", f"u{uuid.uuid4().hex[:8]}"):
        await refused(Sipp(scenario="stranger_invites.xml", target=hotline.sip_target, local_ip=STRANGER_IP,
                           service="12345", variables={"from_user": name}, timeout_s=15))
    assert await calls_processed(hotline) == before, "no channel was created: no FastAGI, no call row"
    async with hotline.app[keys.ENGINE].connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Call)) == 0, "nothing reached the hotline"


async def run_tool(*argv: str) -> str:
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT)
    output, _ = await wait(process.communicate(), 30, f"{argv[0]} did not finish")
    return str(output.decode(errors="replace"))


async def test_sipvicious_finds_no_extension_and_only_the_configured_sip_address(
    hotline: Hotline, attack_tools: None, tmp_path: Path,
) -> None:
    guesses = tmp_path / "guesses.txt"
    guesses.write_text("\n".join(GUESSES) + "\n")
    port = str(hotline.settings.sip.port)

    def svwar(method: str, source: str) -> list[str]:
        return ["svwar", "--force", "-b", source, "-P", str(free_udp_port(source)), "-p", port, "-d", str(guesses),
                "-m", method, "127.0.0.1"]

    # SIP answers on sip.bind (127.0.0.1) only; 127.0.0.2–6 are this machine's addresses as well.
    svmap = ["svmap", "-b", STRANGER_IP, "-P", str(free_udp_port(STRANGER_IP)), "-p", port, "127.0.0.1-127.0.0.6"]
    *scans, found = await asyncio.gather(
        run_tool(*svwar("REGISTER", INSIDER_IP)), run_tool(*svwar("OPTIONS", STRANGER_IP)),
        run_tool(*svwar("INVITE", STRANGER_IP)), run_tool(*svmap),
    )
    for output in scans:
        assert "found nothing" in output and "| Extension" not in output, output
    devices = re.findall(r"^\| (\d+\.\d+\.\d+\.\d+:\d+) +\| (.*?) +\|$", found, re.M)
    assert devices == [(f"127.0.0.1:{port}", "hotline-12345")], found


async def test_seats_register_only_from_the_agent_networks_and_fail2ban_catches_the_guessing(
    hotline: Hotline, attack_tools: None, tmp_path: Path,
) -> None:
    seats = hotline.secrets.seat_passwords
    security_log = hotline.asterisk.layout.host("log") / "security.log"
    start = security_log.stat().st_size

    # The same refusal for all: wrong passwords (five of them), a seat that does not exist, the right password
    # from outside the agent networks, the right password with a Contact outside them.
    await refused(registration(hotline, INSIDER_IP, "8010", "guessed-wrong", INSIDER_IP, calls=5))
    await refused(registration(hotline, INSIDER_IP, "8099", "whatever", INSIDER_IP))
    await refused(registration(hotline, STRANGER_IP, "8011", seats["8011"], STRANGER_IP))
    await refused(registration(hotline, AGENT_IP, "8012", seats["8012"], STRANGER_IP))
    async with hotline.softphone("8013"):  # a real seat from the agents' network still registers
        pass
    attack = tmp_path / "security.log"
    attack.write_bytes(await log_after(security_log, start, 'SecurityEvent="SuccessfulAuth"', 'AccountID="8013"'))

    # -o msg: only the lines the filter counts as failures.
    matched = await run_tool("fail2ban-regex", "-o", "msg", str(attack),
                             str(FAIL2BAN / "filter.d" / "hotline-asterisk.conf"))
    assert "ChallengeSent" not in matched and "SuccessfulAuth" not in matched, \
        "a softphone's normal challenge and log-in must never count"
    by_address = Counter(re.findall(r'RemoteAddress="IPV4/UDP/([\d.]+)/', matched))
    jail = configparser.ConfigParser(interpolation=None)
    jail.read(FAIL2BAN / "jail.d" / "hotline-asterisk.conf")
    assert by_address[INSIDER_IP] >= jail.getint("hotline-asterisk", "maxretry") + 1, matched
    assert by_address[STRANGER_IP] >= 1 and by_address[AGENT_IP] >= 1, "the refused address and Contact count too"


async def log_after(log: Path, start: int, *marks: str) -> bytes:
    """What Asterisk's logger thread has written to `log` after `start`, once a line with all `marks` is in."""
    async with asyncio.timeout(5):
        while True:
            with log.open("rb") as handle:
                handle.seek(start)
                written = handle.read()
            if any(all(mark.encode() in line for mark in marks) for line in written.splitlines()):
                return written
            await asyncio.sleep(0.05)  # a file has no event to await; the line is a few milliseconds away


@asynccontextmanager
async def media_timeouts(hotline: Hotline, seconds: int) -> AsyncIterator[None]:
    """pjsip.conf rendered with an RTP timeout of `seconds` and reloaded, for the block."""
    short = dataclasses.replace(hotline.settings, sip=dataclasses.replace(hotline.settings.sip, rtp_timeout=seconds))
    await reload_pjsip(hotline, short)
    try:
        yield
    finally:
        await reload_pjsip(hotline, hotline.settings)


async def reload_pjsip(hotline: Hotline, settings: Settings) -> None:
    render_config("pjsip.conf", settings, hotline.secrets, hotline.asterisk.layout)
    output = await hotline.asterisk.cli("module reload res_pjsip.so")
    assert output is not None and "reloaded successfully" in output, output


async def test_a_citizen_who_vanishes_is_hung_up_after_the_rtp_timeout_on_the_sip_address(hotline: Hotline) -> None:
    caller, timeout = "13600136000", 2
    async with media_timeouts(hotline, timeout):
        finished = hotline.expect_finished_call()
        greeted = hotline.expect_ami_event(lambda name, f: name == "Newchannel" and f.get("CallerIDNum") == caller)
        hung_up = hotline.expect_ami_event(lambda name, f: name == "Hangup" and f.get("CallerIDNum") == caller)
        sipp = Sipp(scenario="citizen_vanishes.xml", target=hotline.sip_target, local_ip=CARRIER_IP,
                    service="12345", variables={"caller": caller}, timeout_s=30)
        async with run_sipp(sipp) as citizen:
            await wait(greeted, 10, "the call did not arrive", citizen)
            check_listeners(hotline)
            assert await wait(citizen.finished(), 30, "Asterisk never hung up", citizen) == 0, citizen.errors
        row = await wait(finished, 10, "the call did not end in the database")
        cause = (await wait(hung_up, 5, "no Hangup event"))["Cause"]
    assert cause == "44", "res_pjsip_sdp_rtp hangs up for lack of RTP with AST_CAUSE_REQUESTED_CHAN_UNAVAIL"
    call = await hotline.stored_call(row["uniqueid"])
    assert call.started_at is not None and call.ended_at is not None
    assert (call.ended_at - call.started_at).total_seconds() < timeout + 3


def check_listeners(hotline: Hotline) -> None:
    """Every socket Asterisk holds on the SIP port, the RTP ports or the AMI port is on the configured address
    (pjproject's DNS resolver keeps wildcard client sockets on ephemeral ports: not listeners of ours)."""
    settings, process = hotline.settings, hotline.asterisk.process
    assert process is not None
    sockets = list(asterisk_sockets(process.pid))
    rtp = range(settings.sip.rtp_start, settings.sip.rtp_end + 1)
    expected = {settings.sip.port: settings.sip.bind, settings.ami.port: settings.ami.host}
    ours = [(address, port) for address, port in sockets if port in expected or port in rtp]
    assert any(port in rtp for _address, port in ours), f"the call's RTP socket is missing: {sockets}"
    wrong = [(address, port) for address, port in ours if address != expected.get(port, settings.sip.bind)]
    assert not wrong, f"listening beyond the configured addresses: {wrong}"


def asterisk_sockets(pid: int) -> Iterator[tuple[str, int]]:
    """(local address, port) of each UDP socket and listening TCP socket of the process `pid` (from /proc)."""
    links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    inodes = {link[len("socket:["):-1] for link in links if link.startswith("socket:[")}
    for table in ("udp", "udp6", "tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if inode in inodes and (table.startswith("udp") or state == TCP_LISTEN):
                address, port = local.split(":")
                yield kernel_address(address), int(port, 16)


def kernel_address(hex_address: str) -> str:
    """/proc/net's address: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


async def test_the_ami_user_cannot_run_system_actions_but_has_every_class_the_server_needs(hotline: Hotline) -> None:
    ami = hotline.app[keys.AMI]
    with pytest.raises(AmiActionFailed, match="Permission denied"):
        await ami.action({"Action": "Command", "Command": "core show version"})
    with pytest.raises(AmiActionFailed, match="Originate Access Forbidden"):
        await ami.action({"Action": "Originate", "Channel": "Local/s@citizens", "Application": "System",
                          "Data": "id", "Async": "true"})
    granted = set(privileges.write_classes().split(","))
    for action, expected in privileges.ACTION_CLASSES.items():
        output = await hotline.asterisk.cli(f"manager show command {action}") or ""
        text = re.sub(r"\x1b\[[0-9;]*m", "", output)
        found = re.search(r"\[Privilege\]\s*\n\s*(\S+)", text)
        assert found, text
        # Asterisk allows the action to a user with any one of its classes.
        classes = {name for name in found.group(1).split(",") if name not in ("all", "<none>")}
        assert (expected in classes if expected else not classes), f"{action}: Asterisk says {found.group(1)}"
        assert not classes or classes & granted
    await ami.action({"Action": "QueueStatus"}, listing=True)
