"""The recognizer with the real model and the real VAD on hard input, in simulated time.

Audio is fed in 0.25 s chunks as fast as the model decodes it; ``now`` is the audio time fed
so far, which is what the live path's deadlines are measured in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jiwer
import numpy as np
import pytest

from captioncast.core.audio import SAMPLE_RATE, AudioChunk, Samples
from captioncast.core.captioner import Captioner
from captioncast.core.messages import ResponseContext
from captioncast.core.timeline import TimePoint
from captioncast.engines.asr.base import AsrEngine
from captioncast.engines.asr.registry import load_asr_engine
from captioncast.engines.vad.registry import load_vad
from captioncast.pipeline.recognizer import Recognizer
from captioncast.pipeline.runtime import policy_config
from captioncast.samples import synthesize

pytestmark = pytest.mark.slow

MAX_LATENCY = 5.0
RUN_ON = (
    "The city library is open every day of the week and it offers free courses in languages "
    "and music and cooking and computer skills for people of all ages",
    "and anyone who wants to learn something new is welcome to join at any time of the year",
    "and the teachers say the most popular course this winter has been painting with watercolours",
)


@pytest.fixture(scope="module")
def engine() -> AsrEngine:
    return load_asr_engine("faster-whisper", "base", cpu_threads=2)


def run(engine: AsrEngine, audio: Samples) -> Iterator[tuple[float, dict[str, Any]]]:
    """(audio time when sent, response) for everything the flow would publish."""
    recognizer = Recognizer(engine, load_vad("silero"), "en", policy_config(MAX_LATENCY))
    ctx = ResponseContext("en", "transcription", "s", lambda t: TimePoint(t, t, t, None))
    captioner = Captioner(ctx, max_latency=MAX_LATENCY)
    step = SAMPLE_RATE // 4
    for i in range(0, len(audio), step):
        now = min(i + step, len(audio)) / SAMPLE_RATE
        chunk = AudioChunk(audio[i : i + step], i / SAMPLE_RATE, None, 0.0)
        for update in recognizer.step([chunk]):
            yield from ((now, r) for r in captioner.update(update, now))
        yield from ((now, r) for r in captioner.tick(now))
    now = len(audio) / SAMPLE_RATE
    for update in recognizer.step([], flush=True):
        yield from ((now, r) for r in captioner.update(update, now))
    yield from ((now, r) for r in captioner.end_of_stream(now))


def spoken(responses: list[tuple[float, dict[str, Any]]]) -> list[str]:
    return [
        item["value"]
        for _, r in responses
        if r["type"] == "transcript" and r["is_final"]
        for item in r["alternatives"][0]["items"]
        if item["kind"] == "text"
    ]


def pink_noise(seconds: float, level: float, seed: int = 7) -> Samples:
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(seconds * SAMPLE_RATE))
    spectrum = np.fft.rfft(white)
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    pink = np.fft.irfft(spectrum, n=len(white))
    return (pink / np.max(np.abs(pink)) * level).astype(np.float32)


def test_silence_and_noise_give_no_words(engine: AsrEngine) -> None:
    silence = np.zeros(4 * SAMPLE_RATE, dtype=np.float32)
    tones = np.sin(2 * np.pi * np.array([220.0, 330.0])[:, None] * np.arange(4 * SAMPLE_RATE)
                   / SAMPLE_RATE).sum(axis=0).astype(np.float32) * 0.2  # fmt: skip
    audio = np.concatenate([silence, pink_noise(6, 0.3), tones, pink_noise(4, 0.05)])
    responses = list(run(engine, audio))
    assert spoken(responses) == []
    assert not [r for _, r in responses if r["type"] == "captions"]


def test_a_speaker_who_never_pauses_still_gets_captions_within_max_latency(
    engine: AsrEngine,
) -> None:
    speech = synthesize(RUN_ON, pauses=(0.0, 0.0), edge=0.5)
    reference = " ".join(RUN_ON)
    responses = list(run(engine, speech.audio))
    captions = [(at, r) for at, r in responses if r["type"] == "captions"]
    assert len(captions) >= 6
    late = [(r["alternatives"][0]["transcript"], at - r["start"]) for at, r in captions
            if at - r["start"] > MAX_LATENCY]  # fmt: skip
    assert not late, late
    for _, r in captions:
        assert all(len(line) <= 37 for line in r["alternatives"][0]["lines"])
    hypothesis = " ".join(spoken(responses))
    error = jiwer.wer(normalize(reference), normalize(hypothesis))
    assert error <= 0.1, (error, hypothesis)


def test_a_loop_prone_tail_does_not_repeat_or_stall(engine: AsrEngine) -> None:
    # Speech, then a long low hum: Whisper tends to repeat the last phrase over such audio.
    speech = synthesize(RUN_ON[:1], pauses=(), edge=0.3)
    t = np.arange(12 * SAMPLE_RATE) / SAMPLE_RATE
    hum = (0.15 * np.sin(2 * np.pi * 100 * t) + 0.05 * np.sin(2 * np.pi * 200 * t)).astype(
        np.float32
    )
    audio = np.concatenate([speech.audio, hum])
    recognizer_words = spoken(list(run(engine, audio)))
    words = [normalize(w) for w in recognizer_words]
    assert len(words) <= len(RUN_ON[0].split()) + 2, recognizer_words
    for size in range(2, 6):
        phrases = [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]
        assert all(phrases.count(p) < 2 for p in phrases), " ".join(recognizer_words)


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()
