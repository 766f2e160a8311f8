"""The data folder is the service's user's alone: what a `hotline` command writes (the SQLite database here) is
0600 in a 0700 folder, and at start-up files and folders left readable by others (0644/0755, as before) are
closed; the umask is put back after the command. (tests/e2e/test_voicemail.py checks a recording Asterisk left
is 0600 once the server took it in.)"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ivr.cli import main
from ivr.private_data import make_private, private_umask


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_command_writes_the_database_readable_by_its_user_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    before = os.umask(0o022)
    try:
        assert main(["--set", f"data_dir={data_dir}", "--set", "log_level=WARNING", "db", "upgrade"]) == 0
        assert os.umask(0o022) == 0o022, "the umask before the command is put back"
    finally:
        os.umask(before)
    assert mode(data_dir / "hotline.db") == 0o600
    assert mode(data_dir) == 0o700


def test_files_and_folders_left_open_are_closed_at_start_and_links_left_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "voicemail").mkdir(parents=True, mode=0o755)
    (data_dir / "voicemail").chmod(0o755)
    recording = data_dir / "voicemail" / "1700000000.1.wav"
    recording.write_bytes(b"RIFF")
    recording.chmod(0o644)
    spool = data_dir / "spool.jsonl"
    spool.write_text("{}\n")
    spool.chmod(0o600)
    outside = tmp_path / "shared.txt"
    outside.write_text("not ours")
    outside.chmod(0o644)
    (data_dir / "link").symlink_to(outside)

    assert make_private(data_dir) == 3  # the data folder, voicemail/ and the recording
    assert (mode(data_dir), mode(data_dir / "voicemail"), mode(recording), mode(spool)) == (0o700, 0o700, 0o600, 0o600)
    assert mode(outside) == 0o644, "a link's target outside the data folder is not ours to change"
    assert make_private(data_dir) == 0


def test_the_private_umask_makes_new_files_private_and_is_undone_after() -> None:
    before = os.umask(0o022)
    try:
        with private_umask():
            assert os.umask(0o077) == 0o077
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)
