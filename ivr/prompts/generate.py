"""Turn the catalogue into 8 kHz mono WAV files with espeak-ng and sox; recorded files win when present."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ivr.prompts.catalogue import PROMPTS

# espeak-ng's Mandarin is slow at its default speed; every second of greeting counts against 15 s.
WORDS_PER_MINUTE = 200
# Leading and trailing silence trimmed; 3 dB of headroom so resampling does not clip.
TRIM_SILENCE = ("gain", "-3", "silence", "1", "0.05", "1%", "reverse", "silence", "1", "0.05", "1%", "reverse")


class PromptError(RuntimeError):
    """A prompt could not be generated; the message carries the tool's own error."""


def generate_prompts(target: Path, voice: str, custom_dir: Path | None = None,
                     texts: Mapping[str, str] | None = None) -> list[Path]:
    """Write NAME.wav for every prompt into `target`, regenerating only what changed; `texts` replace the
    catalogue's (the greeting, which names the service lines of the settings)."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (PROMPTS | dict(texts or {})).items():
        destination = target / f"{name}.wav"
        recorded = custom_dir / f"{name}.wav" if custom_dir else None
        if recorded is not None and recorded.is_file():
            _convert(recorded, destination)
        else:
            _synthesise(text, voice, destination)
        written.append(destination)
    return written


def _synthesise(text: str, voice: str, destination: Path) -> None:
    stamp = destination.with_suffix(".source")
    fingerprint = hashlib.sha256(f"{voice}\n{WORDS_PER_MINUTE}\n{TRIM_SILENCE}\n{text}".encode()).hexdigest()
    if destination.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return
    with tempfile.TemporaryDirectory() as scratch:
        spoken = Path(scratch) / "spoken.wav"
        _run(["espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "-w", str(spoken), text])
        _convert(spoken, destination, TRIM_SILENCE)
    stamp.write_text(fingerprint)


def _convert(source: Path, destination: Path, effects: tuple[str, ...] = ()) -> None:
    """Asterisk's .wav format is 8 kHz, 16-bit, mono."""
    _run(["sox", "-V1", str(source), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(destination),
          *effects])


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise PromptError(f"{command[0]} is not installed (apt-get install espeak-ng sox)")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PromptError(f"{command[0]} failed: {result.stderr.strip()[-300:]}")
