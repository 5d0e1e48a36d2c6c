"""Streaming VADs: chunking never changes the result, and speech is told from silence."""

from __future__ import annotations

import numpy as np
import pytest
from speech import SpeechSample

from captioncast.core.audio import SAMPLE_RATE, Samples
from captioncast.engines.vad.base import FRAME_SAMPLES, FRAME_SECONDS, VadModel
from captioncast.engines.vad.detector import SpeechDetector, SpeechEnd, SpeechStart
from captioncast.engines.vad.energy import EnergyVad
from captioncast.engines.vad.registry import VAD_ENGINES, load_vad


@pytest.fixture(params=sorted(VAD_ENGINES))
def vad(request: pytest.FixtureRequest) -> VadModel:
    return load_vad(request.param)


@pytest.fixture(scope="module")
def silero_probs(speech_audio: Samples) -> list[float]:
    return load_vad("silero").feed(speech_audio)


def feed_in_chunks(vad: VadModel, audio: Samples, sizes: list[int]) -> list[float]:
    probs: list[float] = []
    position = 0
    index = 0
    while position < len(audio):
        size = sizes[index % len(sizes)]
        probs += vad.feed(audio[position : position + size])
        position += size
        index += 1
    return probs


def test_chunked_equals_whole(vad: VadModel, speech_audio: Samples) -> None:
    audio = speech_audio[: 8 * SAMPLE_RATE + 100]
    whole = vad.feed(audio)
    vad.reset()
    chunked = feed_in_chunks(vad, audio, [1, 7, 320, 511, 512, 513, 4000, 0, 1600])
    assert len(whole) == len(chunked) == len(audio) // FRAME_SAMPLES
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6)


def test_partial_frames_wait_and_flush_pads_them(vad: VadModel) -> None:
    assert vad.feed(np.zeros(FRAME_SAMPLES - 1, np.float32)) == []
    assert len(vad.feed(np.zeros(2, np.float32))) == 1
    assert len(vad.flush()) == 1  # the one pending sample, padded
    assert vad.flush() == []


def test_reset_forgets_the_state(vad: VadModel, speech_audio: Samples) -> None:
    audio = speech_audio[SAMPLE_RATE : 3 * SAMPLE_RATE]
    first = vad.feed(audio)
    vad.feed(np.zeros(300, np.float32))
    vad.reset()
    assert vad.feed(audio) == first


def test_silero_matches_faster_whisper(speech_audio: Samples, silero_probs: list[float]) -> None:
    from faster_whisper.vad import get_vad_model

    whole = len(speech_audio) // FRAME_SAMPLES * FRAME_SAMPLES
    # faster-whisper zeroes the tail of the last frame in place, so pass a copy and skip it.
    reference = get_vad_model()(speech_audio[:whole].copy()).ravel()
    assert len(reference) == len(silero_probs)
    np.testing.assert_allclose(silero_probs[:-1], reference[:-1], rtol=0, atol=1e-5)


def _frames_within(start: float, end: float, margin: float) -> slice:
    return slice(int((start + margin) / FRAME_SECONDS), int((end - margin) / FRAME_SECONDS))


def _silences(sample: SpeechSample) -> list[tuple[float, float]]:
    edges = [0.0] + [t for s in sample.sentences for t in (s.start, s.end)] + [sample.duration]
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]


# Energy also drops in the short pauses inside a sentence (commas, stops); Silero bridges them.
@pytest.mark.parametrize(("name", "speech_share"), [("silero", 0.8), ("energy", 0.6)])
def test_speech_scores_high_and_silence_low(
    name: str,
    speech_share: float,
    speech_sample: SpeechSample,
    speech_audio: Samples,
    silero_probs: list[float],
) -> None:
    probs = np.array(silero_probs if name == "silero" else EnergyVad().feed(speech_audio))
    for sentence in speech_sample.sentences:
        inside = probs[_frames_within(sentence.start, sentence.end, 0.1)]
        assert np.mean(inside >= 0.5) >= speech_share, sentence.text
    for start, end in _silences(speech_sample):
        if end - start >= 0.6:
            gap = probs[_frames_within(start, end, 0.2)]
            assert np.all(gap < 0.35), (start, end)


def test_detector_on_silero_finds_the_pauses(
    speech_sample: SpeechSample, silero_probs: list[float]
) -> None:
    detector = SpeechDetector()
    events = detector.feed(silero_probs) + detector.flush()
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStart, SpeechEnd] * (len(events) // 2)
    segments = [(events[i].time, events[i + 1].time) for i in range(0, len(events), 2)]
    # Pauses of at least min_silence (0.5 s) split speech; the 0.3 s breath does not.
    long_pauses = sum(1 for s, e in _silences(speech_sample)[1:-1] if e - s >= 0.5)
    assert len(segments) == long_pauses + 1
    for sentence in speech_sample.sentences:
        assert any(a <= sentence.start and sentence.end <= b for a, b in segments), sentence.text
    assert all(b - a < 9.0 for a, b in segments)
