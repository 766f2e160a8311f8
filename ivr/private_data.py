"""The data folder holds citizens' voices, attachments, reports, spools of call records and, with SQLite, the
database: only the service's user may read it.

The server and every `hotline` command run with a private umask (files 0600, folders 0700), so whatever they
write, and what Asterisk and Kannel write as their children, is private from the start; at start-up the data
folder is made 0700 and anything in it that group or others could read (from before, or copied in with its
mode) is closed to them. Asterisk running as another user (docs/operations.md) hands recordings over through
its own spool, which the server copies into the data folder; it never reads the data folder itself.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)
PRIVATE_UMASK = 0o077  # no bit for group or others
GROUP_AND_OTHERS = 0o077


@contextmanager
def private_umask() -> Iterator[None]:
    """Files and folders made in the block are the user's alone; the umask before is put back after."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def make_private(data_dir: Path) -> int:
    """The data folder 0700 (made if missing) and nothing in it open to group or others; returns how many files
    and folders had to be closed. Symbolic links are left alone (their mode means nothing, their target may be
    outside)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    closed = _close(data_dir)
    for folder, folders, files in os.walk(data_dir):
        for name in (*folders, *files):
            closed += _close(Path(folder, name))
    if closed:
        logger.warning("%d file(s) and folder(s) in %s were readable by others: now the service's user's alone",
                       closed, data_dir)
    return closed


def _close(path: Path) -> int:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:  # removed while we walked (a spool taken in, a partial file renamed)
        return 0
    if stat.S_ISLNK(mode) or not mode & GROUP_AND_OTHERS:
        return 0
    path.chmod(stat.S_IMODE(mode) & ~GROUP_AND_OTHERS)
    return 1
