"""SpeechDetector on crafted frame probabilities (32 ms frames)."""

from __future__ import annotations

import pytest

from captioncast.engines.vad.detector import SpeechDetector, SpeechEnd, SpeechStart

F = 0.032


def frames(seconds: float, p: float) -> list[float]:
    return [p] * round(seconds / F)


def run(probs: list[float], **options: float) -> list[tuple[str, float]]:
    detector = SpeechDetector(**options)
    events = detector.feed(probs) + detector.flush()
    return [(type(e).__name__, round(e.time, 3)) for e in events]


def test_speech_is_reported_padded_after_min_speech_and_min_silence() -> None:
    detector = SpeechDetector(pad=0.1)
    assert detector.feed(frames(0.96, 0.0)) == []
    # 0.256 s of speech is needed: the 8th frame confirms, dated back to the onset minus pad.
    assert detector.feed(frames(0.224, 0.9)) == []
    assert detector.feed([0.9]) == [SpeechStart(pytest.approx(0.96 - 0.1))]
    assert detector.in_speech
    assert detector.feed(frames(1.0, 0.9)) == []
    # Silence from frame 69 (2.208 s): the end is known after 0.5 s (16 frames) of it.
    assert detector.feed(frames(0.48, 0.0)) == []
    assert detector.feed([0.0]) == [SpeechEnd(pytest.approx(2.208 + 0.1))]
    assert not detector.in_speech


def test_a_short_blip_is_ignored() -> None:
    assert run(frames(1.0, 0.0) + frames(0.16, 0.9) + frames(1.0, 0.0)) == []


def test_short_dips_inside_speech_do_not_end_it() -> None:
    speech = frames(0.16, 0.9) + frames(0.064, 0.1) + frames(0.16, 0.9)
    probs = speech + frames(0.32, 0.1) + frames(1.0, 0.9) + frames(1.0, 0.0)
    events = run(probs, pad=0.0)
    assert [kind for kind, _ in events] == ["SpeechStart", "SpeechEnd"]
    assert events[0][1] == 0.0


def test_hysteresis_between_the_thresholds() -> None:
    # 0.4 neither starts speech nor ends it.
    assert run(frames(1.0, 0.4)) == []
    events = run(frames(0.5, 0.9) + frames(2.0, 0.4) + frames(0.6, 0.2), pad=0.0)
    assert events == [("SpeechStart", 0.0), ("SpeechEnd", 2.496)]


def test_flush_closes_open_speech() -> None:
    events = run(frames(0.512, 0.0) + frames(0.992, 0.9), pad=0.2)
    # The end is padded, but never past the audio seen (frame 47, 1.504 s).
    assert events == [("SpeechStart", 0.312), ("SpeechEnd", 1.504)]


def test_times_count_from_start_time_and_never_overlap() -> None:
    probs = frames(0.5, 0.9) + frames(0.5, 0.0) + frames(0.5, 0.9) + frames(0.6, 0.0)
    events = run(probs, start_time=100.0, pad=0.3)
    times = [t for _, t in events]
    assert times[0] == 100.0 and times == sorted(times)
    assert len(events) == 4


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        SpeechDetector(threshold=0.3, neg_threshold=0.5)
