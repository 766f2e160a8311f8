"""`hotline model install` and `hotline model check`: a Vosk model's zip archive checked against its sha256,
unpacked safely, checked to be a model, and the setting to add printed."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from ivr import cli
from ivr.settings import load_settings
from ivr.voicemail.model_install import ModelInstallError, install, settings_lines, sha256_of
from ivr.voicemail.speech_model import REQUIRED, find_model

NAME = "vosk-model-small-cn-0.22"
MODEL_FILES = {
    "am/final.mdl": b"not really a model",
    "conf/mfcc.conf": b"--use-energy=false\n--sample-frequency=8000\n",
    "conf/model.conf": b"--min-active=200\n",
    "graph/HCLr.fst": b"",
    "README": b"a fake model",
}


def make_zip(path: Path, members: dict[str, bytes], top: str | None = NAME) -> tuple[Path, str]:
    with zipfile.ZipFile(path, "w") as bundle:
        if top:
            bundle.writestr(f"{top}/", b"")
        for name, data in members.items():
            bundle.writestr(f"{top}/{name}" if top else name, data)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def left_in(folder: Path) -> list[str]:
    return sorted(item.name for item in folder.iterdir()) if folder.exists() else []


def test_a_good_archive_is_unpacked_into_its_folder_and_find_model_accepts_it(tmp_path: Path) -> None:
    archive, digest = make_zip(tmp_path / f"{NAME}.zip", MODEL_FILES)
    into = tmp_path / "models"
    model = install(archive, digest.upper(), into)
    assert model.path == into / NAME and model.name == NAME and model.sample_rate == 8000
    assert find_model(str(into / NAME)) == model
    assert (into / NAME / "graph" / "HCLr.fst").is_file()
    assert left_in(into) == [NAME], "no temporary folder left behind"
    assert sha256_of(archive) == digest


def test_an_archive_without_a_top_folder_is_named_after_the_archive(tmp_path: Path) -> None:
    archive, digest = make_zip(tmp_path / "my-model.zip", MODEL_FILES, top=None)
    model = install(archive, f"{digest}  my-model.zip", tmp_path / "models")  # as sha256sum prints it
    assert model.path == tmp_path / "models" / "my-model"


def test_a_sha256_mismatch_is_refused_showing_both(tmp_path: Path) -> None:
    archive, digest = make_zip(tmp_path / f"{NAME}.zip", MODEL_FILES)
    given = "0" * 64
    with pytest.raises(ModelInstallError) as refused:
        install(archive, given, tmp_path / "models")
    assert digest in str(refused.value) and given in str(refused.value)
    assert not (tmp_path / "models").exists()
    with pytest.raises(ModelInstallError, match="64 hexadecimal digits"):
        install(archive, "abc", tmp_path / "models")


@pytest.mark.parametrize("member", ["../evil", f"{NAME}/../../evil", "/tmp/evil", "C:/evil"])
def test_a_member_that_would_land_outside_is_refused(tmp_path: Path, member: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, data in MODEL_FILES.items():
            bundle.writestr(f"{NAME}/{name}", data)
        bundle.writestr(zipfile.ZipInfo(member), b"owned")
    into = tmp_path / "deep" / "models"
    with pytest.raises(ModelInstallError, match="unsafe member"):
        install(archive, sha256_of(archive), into)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep" / "evil").exists()
    assert left_in(into) == []


def test_an_archive_that_is_not_a_model_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    members = {name: data for name, data in MODEL_FILES.items() if name != "am/final.mdl"}
    archive, digest = make_zip(tmp_path / f"{NAME}.zip", members)
    into = tmp_path / "models"
    with pytest.raises(ModelInstallError, match="lacks am/final.mdl"):
        install(archive, digest, into)
    assert left_in(into) == []
    not_zip = tmp_path / "model.zip"
    not_zip.write_bytes(b"garbage")
    with pytest.raises(ModelInstallError, match="not a readable zip"):
        install(not_zip, sha256_of(not_zip), into)


def test_an_installed_model_is_not_overwritten(tmp_path: Path) -> None:
    archive, digest = make_zip(tmp_path / f"{NAME}.zip", MODEL_FILES)
    install(archive, digest, tmp_path / "models")
    with pytest.raises(ModelInstallError, match="exists already"):
        install(archive, digest, tmp_path / "models")


def test_the_printed_setting_is_valid_settings(tmp_path: Path) -> None:
    archive, digest = make_zip(tmp_path / f"{NAME}.zip", MODEL_FILES)
    model = install(archive, digest, tmp_path / "models")
    setting = next(line.strip() for line in settings_lines(model) if line.strip().startswith("transcription."))
    config = tmp_path / "hotline.toml"
    config.write_text(setting + "\n", encoding="utf-8")
    assert load_settings(config, environ={}).transcription.model_path == str(model.path)


def test_hotline_model_install_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive, digest = make_zip(tmp_path / f"{NAME}.zip", MODEL_FILES)
    installed = tmp_path / "models" / NAME
    config = tmp_path / "hotline.toml"
    config.touch()

    def hotline(*words: str) -> tuple[int, str, str]:
        code = cli.main(["--config", str(config), "--set", f"data_dir={tmp_path}", *words])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, _out, err = hotline("model", "install", str(archive), "--sha256", "f" * 64)
    assert code == 1 and digest in err and "f" * 64 in err
    code, out, _err = hotline("model", "install", str(archive), "--sha256", digest)
    assert code == 0
    assert f'transcription.model_path = "{installed}"' in out
    assert f"HOTLINE_TRANSCRIPTION_MODEL_PATH={installed}" in out
    assert all((installed / item).is_file() for item in REQUIRED)

    code, out, _err = hotline("--set", f"transcription.model_path={installed}", "model", "check")
    assert code == 0 and f"speech model {NAME} at {installed}" in out and "8000 Hz" in out
