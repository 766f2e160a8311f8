"""Decoding in a worker process: the model loaded once per process, each voicemail read, resampled to the
model's rate and decoded; the text, the word timings and the confidence returned as plain data.

Everything here runs outside the server's event loop (a process pool), and returns only picklable values.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.voicemail.analysis import findings
from ivr.voicemail.audio import BadAudio, quiet_cuts, read_wav, resample
from ivr.voicemail.transcript_text import joined
from routing.catalogue import Entry

CHUNK_SECONDS = 0.5


@dataclass(frozen=True)
class Decoded:
    text: str
    words: list[tuple[str, float, float, float]]  # word, start s, end s, confidence
    confidence: float | None
    audio_seconds: float
    decode_seconds: float


class Decoder:
    def __init__(self, model_dir: Path, sample_rate: int) -> None:
        import vosk  # imported here: only decoder processes load the library and its model

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model = vosk.Model(str(model_dir))
        self.sample_rate = sample_rate

    def decode(self, path: Path, start: int = 0, end: int | None = None) -> Decoded:
        """The recording, or its part between two sample positions (at the file's own rate)."""
        started = time.perf_counter()
        audio = resample(read_wav(path).between(start, end), self.sample_rate)
        recogniser = self._vosk.KaldiRecognizer(self.model, self.sample_rate)
        recogniser.SetWords(True)
        data = audio.samples.tobytes()
        step = int(self.sample_rate * CHUNK_SECONDS) * 2
        pieces: list[dict[str, Any]] = []
        for offset in range(0, len(data), step):
            if recogniser.AcceptWaveform(data[offset:offset + step]):
                pieces.append(json.loads(recogniser.Result()))
        pieces.append(json.loads(recogniser.FinalResult()))
        words = [(w["word"], round(w["start"], 3), round(w["end"], 3), round(w["conf"], 4))
                 for piece in pieces for w in piece.get("result", [])]
        text = joined(piece.get("text", "") for piece in pieces)
        confidence = round(sum(w[3] for w in words) / len(words), 4) if words else None
        return Decoded(text, words, confidence, round(audio.seconds, 3), time.perf_counter() - started)


def merged(parts: list[tuple[float, Decoded]], decode_seconds: float) -> Decoded:
    """One transcript from the pieces of a voicemail decoded apart, each with where it starts (seconds)."""
    words = [(word, round(start + offset, 3), round(end + offset, 3), confidence)
             for offset, part in parts for word, start, end, confidence in part.words]
    confidence = round(sum(w[3] for w in words) / len(words), 4) if words else None
    return Decoded(joined(part.text for _offset, part in parts), words, confidence,
                   round(sum(part.audio_seconds for _offset, part in parts), 3), decode_seconds)


def plan(path: Path, pieces: int, split_seconds: float) -> tuple[int, list[int]]:
    """The file's rate and where to cut it: into up to `pieces` parts of at least `split_seconds`, at pauses."""
    audio = read_wav(path)
    return audio.rate, quiet_cuts(audio, min(pieces, int(audio.seconds // split_seconds)))


# One decoder per worker process, made by the pool's initializer.
_decoder: Decoder | None = None


def start_process(model_dir: str, sample_rate: int) -> None:
    global _decoder
    logging.getLogger("jieba").setLevel(logging.WARNING)
    _decoder = Decoder(Path(model_dir), sample_rate)


def transcribe_in_process(path: str, catalogue: list[Entry]) -> tuple[Decoded, dict[str, Any]]:
    """The voicemail's transcript, and what a draft takes from it."""
    if _decoder is None:
        raise RuntimeError("decoder process started without its model")
    decoded = _decoder.decode(Path(path))
    return decoded, findings(decoded.text, catalogue)


def decode_part_in_process(path: str, start: int, end: int | None) -> Decoded:
    if _decoder is None:
        raise RuntimeError("decoder process started without its model")
    return _decoder.decode(Path(path), start, end)


def warm_up() -> bool:
    """Run by the pool once at start so that the model (and jieba's dictionary) is loaded before the first
    voicemail."""
    findings("", [])
    return _decoder is not None


__all__ = ["BadAudio", "Decoded", "Decoder", "merged", "plan", "start_process", "transcribe_in_process", "warm_up"]
