"""Where an Asterisk instance keeps its files, seen from our side and from Asterisk's side.

In the sandbox Asterisk runs under chroot, so a file we write at ROOT/srv/hotline/x is /srv/hotline/x
for Asterisk. A system Asterisk sees the same paths we do.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ivr.settings import Settings

DEBIAN_MODULE_DIR = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
DEBIAN_DATA_DIR = "/usr/share/asterisk"
SANDBOX_MARKER = ".hotline-sandbox"


@dataclass(frozen=True)
class AsteriskLayout:
    root: Path | None  # the chroot, or None for a system Asterisk
    base: PurePosixPath  # the instance directory as Asterisk sees it

    def host_path(self, inner: PurePosixPath) -> Path:
        """The path at which we read or write a file that Asterisk sees at `inner`."""
        if self.root is None:
            return Path(inner)
        return self.root / inner.relative_to("/")

    def inner(self, name: str) -> PurePosixPath:
        return self.base / name

    def host(self, name: str) -> Path:
        return self.host_path(self.inner(name))

    @property
    def config_file(self) -> PurePosixPath:
        return self.inner("etc") / "asterisk.conf"

    @property
    def queue_log(self) -> Path:
        return self.host("log") / "queue_log"

    @property
    def messages_log(self) -> Path:
        return self.host("log") / "messages.log"

    @property
    def sounds_dir(self) -> Path:
        return self.host("sounds")

    @property
    def classic_spool_inner(self) -> PurePosixPath:
        """Where the classic AGI scripts leave call records for the server to take in."""
        return self.inner("spool") / "hotline"

    @property
    def classic_spool(self) -> Path:
        return self.host_path(self.classic_spool_inner)

    def command(self, *arguments: str) -> list[str]:
        """The argv that runs the asterisk binary of this instance."""
        argv = ["asterisk", "-C", str(self.config_file), *arguments]
        if self.root is None:
            return [shutil.which("asterisk") or "/usr/sbin/asterisk", *argv[1:]]
        return ["chroot", str(self.root), *argv]


def sandbox_root(settings: Settings) -> Path:
    return settings.cache_dir / "asterisk-chroot"


def system_asterisk() -> str | None:
    return shutil.which("asterisk")


def choose_layout(settings: Settings) -> AsteriskLayout:
    mode = settings.asterisk.mode
    if mode == "system" or (mode == "auto" and system_asterisk()):
        return AsteriskLayout(None, PurePosixPath(settings.data_dir / "asterisk"))
    return AsteriskLayout(sandbox_root(settings), PurePosixPath("/srv/hotline") / settings.asterisk.instance)
