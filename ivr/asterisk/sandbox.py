"""An Asterisk 22 from Debian testing, installed with debootstrap into a cached chroot and reused."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from ivr.asterisk.layout import SANDBOX_MARKER

# python3 runs the classic AGI fallback (agi_scripts/) when our FastAGI server cannot be reached.
PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-wav", "python3")
# A file each package in PACKAGES installs: how an older sandbox is found to lack a newer package.
PACKAGE_FILES = {"asterisk": "usr/sbin/asterisk", "python3": "usr/bin/python3"}
Progress = Callable[[str], None]


class SandboxError(RuntimeError):
    """The sandbox could not be installed; the message says which step failed and why."""


def is_installed(root: Path) -> bool:
    return (root / SANDBOX_MARKER).is_file()


def install_sandbox(root: Path, suite: str, progress: Progress) -> Path:
    """Install Asterisk into `root` unless it is there already. Safe to run again after a failure."""
    if is_installed(root):
        _complete(root, progress)
        progress(f"Asterisk sandbox ready at {root}")
        return root
    if os.geteuid() != 0:
        raise SandboxError("installing the Asterisk sandbox needs root (debootstrap and chroot)")
    _ensure_debootstrap(progress)
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    progress(f"installing Asterisk from Debian {suite} into {root} (about a minute)")
    command = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(partial)]
    _run_with_progress(command, progress)
    version = subprocess.run(
        ["chroot", str(partial), "asterisk", "-V"], capture_output=True, text=True, check=False
    )
    if version.returncode != 0 or not version.stdout.startswith("Asterisk "):
        raise SandboxError(f"the sandbox's asterisk does not run: {version.stderr.strip() or version.stdout}")
    _write_hosts(partial)
    (partial / SANDBOX_MARKER).write_text(version.stdout)
    partial.rename(root)
    progress(f"installed {version.stdout.strip()}")
    return root


def _complete(root: Path, progress: Progress) -> None:
    """Bring a sandbox made by an older version up to the current package list."""
    missing = [name for name, path in PACKAGE_FILES.items() if not (root / path).exists()]
    if missing:
        progress(f"adding {', '.join(missing)} to the sandbox")
        result = subprocess.run(["chroot", str(root), "apt-get", "install", "-y", "-q", *missing],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SandboxError(f"apt-get install {' '.join(missing)} in the sandbox failed: {result.stdout[-500:]}")
    _write_hosts(root)


def _write_hosts(root: Path) -> None:
    """Put the machine's host name into the sandbox's /etc/hosts (debootstrap's lists only localhost).

    Asterisk looks its own host name up for every call (ast_find_ourip: the local address of the call's
    RTCP, as RTP listens on all addresses), in the PJSIP thread that handles the INVITE. Without the name
    in /etc/hosts each look-up goes to DNS, and a burst of calls loses queries there: the resolver waits
    5 s, PJSIP's threads with it, and Asterisk answers no SIP request meanwhile (SIPp's retransmission
    timeouts in bench/call_load.py). Checked at every start, since the cached sandbox may outlive a
    change of host name."""
    hosts = root / "etc" / "hosts"
    name = socket.gethostname()
    text = hosts.read_text() if hosts.exists() else "127.0.0.1 localhost\n::1 localhost\n"
    if name in {word for line in text.splitlines() for word in line.split("#")[0].split()[1:]}:
        return
    text += ("" if not text or text.endswith("\n") else "\n") + f"127.0.1.1 {name}\n"
    partial = hosts.with_name("hosts.partial")
    partial.write_text(text)
    partial.replace(hosts)


def _ensure_debootstrap(progress: Progress) -> None:
    if shutil.which("debootstrap"):
        return
    progress("installing debootstrap")
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "debootstrap"]):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SandboxError(f"{' '.join(command)} failed: {result.stderr.strip()[-500:]}")


def _run_with_progress(command: list[str], progress: Progress) -> None:
    retrieved = 0
    tail: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail = [*tail[-19:], line.rstrip()]
            if line.startswith("I: Retrieving"):
                retrieved += 1
                if retrieved % 25 == 0:
                    progress(f"  downloaded {retrieved} packages")
            elif line.startswith(("I: Installing", "I: Configuring core", "I: Base system")):
                progress("  " + line[3:].strip())
    if process.returncode != 0:
        raise SandboxError(f"debootstrap failed (exit {process.returncode}):\n" + "\n".join(tail))
