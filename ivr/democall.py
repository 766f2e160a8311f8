"""SIPp as a citizen or an agent: the demo call of `hotline call`, and the peers the tests drive."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ivr.settings import Settings

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "tests" / "sipp"


class DemoCallError(RuntimeError):
    """SIPp is missing, or the call did not go as expected; the message carries SIPp's error log."""


@dataclass(frozen=True)
class Sipp:
    """One SIPp process's command line."""

    scenario: str
    target: str  # host:port of Asterisk's SIP transport; "" for a scenario that only answers
    local_ip: str
    local_port: int | None = None
    service: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    pause_ms: int | None = None
    username: str | None = None
    password: str | None = None
    out_of_call: str | None = None
    inject: str | None = None  # one line of [field0]… values (e.g. the seat number)
    timeout_s: int = 60
    calls: int = 1  # how many calls, all at once (-m and -l)
    rate: float | None = None  # calls started per second

    def command(self, workdir: Path) -> list[str]:
        binary = shutil.which("sipp")
        if binary is None:
            raise DemoCallError("SIPp is not installed: apt-get install sip-tester")
        media = free_media_ports(self.local_ip)
        # Not one of the four media ports: SIPp binds both, and a clash ends it at once (exit 254).
        port = self.local_port or free_udp_port(self.local_ip, avoid=range(media, media + 4))
        argv = [binary, *([self.target] if self.target else []), "-sf", str(SCENARIO_DIR / self.scenario),
                "-i", self.local_ip, "-p", str(port), "-mp", str(media),
                "-m", str(self.calls), "-l", str(self.calls), "-timeout", f"{self.timeout_s}s", "-timeout_error",
                "-nostdin", "-trace_err", "-error_file", str(workdir / "errors.log")]
        if self.service:
            argv += ["-s", self.service]
        if self.rate is not None:
            argv += ["-r", str(self.rate)]
        if self.pause_ms is not None:
            argv += ["-d", str(self.pause_ms)]
        if self.username:
            argv += ["-au", self.username, "-ap", self.password or ""]
        if self.out_of_call:
            argv += ["-oocsf", str(SCENARIO_DIR / self.out_of_call)]
        for name, value in self.variables.items():
            argv += ["-set", name, value]
        if self.inject is not None:
            fields = workdir / "fields.csv"
            fields.write_text(f"SEQUENTIAL\n{self.inject}\n")
            argv += ["-inf", str(fields)]
        return argv


def free_udp_port(address: str, avoid: range = range(0)) -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
            port: int = probe.getsockname()[1]
        if port not in avoid:
            return port
    raise DemoCallError(f"no free UDP port on {address} outside {avoid.start}–{avoid.stop - 1}")


def free_media_ports(address: str, tries: int = 50) -> int:
    """A port with the next three free too: SIPp binds audio and video RTP (and RTCP) from there."""
    for _ in range(tries):
        first = free_udp_port(address)
        if first > 65532:
            continue
        probes = []
        try:
            for port in range(first, first + 4):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind((address, port))
            return first
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise DemoCallError(f"no four free UDP ports in a row on {address}")


def error_log(workdir: Path) -> str:
    path = workdir / "errors.log"
    return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def place_demo_call(settings: Settings, number: str, caller: str, seconds: int) -> None:
    """Dial `number` from the carrier's address as `caller`; raises DemoCallError if SIPp's call failed."""
    carrier = settings.sip.carrier_addresses[0].split("/")[0]
    sipp = Sipp(
        scenario="citizen_hangs_up.xml",
        target=f"127.0.0.1:{settings.sip.port}",
        local_ip=carrier,
        service=number,
        variables={"caller": caller},
        pause_ms=seconds * 1000,
        timeout_s=seconds + 30,
    )
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(sipp.command(Path(scratch)), cwd=scratch, capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            raise DemoCallError(f"the demo call failed (SIPp exit {result.returncode}):\n{error_log(Path(scratch))}")
