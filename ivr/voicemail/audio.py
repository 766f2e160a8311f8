"""Reading a voicemail's WAV and bringing it to the rate a speech model expects.

Asterisk records telephone audio at 8 kHz; Vosk's models are trained at 16 kHz, and Kaldi upsamples only where
the model's mfcc.conf allows it. So the audio is resampled here, the same way for every model and every path
(a recording, a test's direct decode, the benchmark).
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]


class BadAudio(ValueError):
    """The file cannot be transcribed, now or later (not a WAV, no audio, an unusual format); says why."""


@dataclass(frozen=True)
class Audio:
    samples: Samples  # mono, 16-bit
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def between(self, start: int, end: int | None) -> Audio:
        return Audio(self.samples[start:end], self.rate)


def read_wav(path: Path) -> Audio:
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
            frames = handle.readframes(handle.getnframes())
    except FileNotFoundError:
        # Not BadAudio: a folder on a shared mount may be back for the next attempt.
        raise FileNotFoundError(f"the recording {path.name} is not on disk") from None
    except (wave.Error, EOFError) as exc:
        raise BadAudio(f"{path.name} is not a readable WAV file ({str(exc) or 'it ends early'})") from None
    if width != 2:
        raise BadAudio(f"{path.name} has {8 * width}-bit samples; 16-bit PCM is expected")
    samples = np.frombuffer(frames[: len(frames) - len(frames) % (2 * channels)], dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    if len(samples) == 0:
        raise BadAudio(f"{path.name} holds no audio (0 seconds)")
    return Audio(samples.astype(np.int16, copy=False), rate)


def resample(audio: Audio, rate: int, taps_per_phase: int = 16) -> Audio:
    """Polyphase resampling with a Kaiser-windowed sinc low-pass at the lower rate's Nyquist frequency."""
    if audio.rate == rate:
        return audio
    divisor = math.gcd(audio.rate, rate)
    up, down = rate // divisor, audio.rate // divisor
    cutoff = 1.0 / max(up, down)  # of the upsampled signal's Nyquist frequency
    half = taps_per_phase * max(up, down)
    n = np.arange(-half, half + 1)
    kernel = cutoff * np.sinc(cutoff * n) * np.kaiser(len(n), 8.0) * up
    stuffed = np.zeros(len(audio.samples) * up, dtype=np.float64)
    stuffed[::up] = audio.samples
    filtered = np.convolve(stuffed, kernel, mode="same")[::down]
    return Audio(np.clip(np.rint(filtered), -32768, 32767).astype(np.int16), rate)


def quiet_cuts(audio: Audio, pieces: int, window_seconds: float = 0.2, reach: float = 0.25) -> list[int]:
    """Where to cut the audio into `pieces` of about equal length, as sample positions: at the quietest
    moment within `reach` of a piece's length around each even cut, so that no word is cut in two."""
    window = max(1, int(audio.rate * window_seconds))
    if pieces <= 1 or len(audio.samples) < 2 * window * pieces:
        return []
    running = np.concatenate(([0.0], np.cumsum(audio.samples.astype(np.float64) ** 2)))
    energy = running[window:] - running[:-window]  # of the window starting at each sample
    piece = len(audio.samples) / pieces
    cuts = []
    for index in range(1, pieces):
        low = max(0, int(index * piece - reach * piece))
        high = min(len(energy), int(index * piece + reach * piece))
        cuts.append(low + int(np.argmin(energy[low:high])) + window // 2)
    return cuts
