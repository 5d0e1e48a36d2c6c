"""The hallucination filter on crafted segments."""

from __future__ import annotations

import pytest

from captioncast.engines.asr.base import AsrSegment
from captioncast.engines.asr.filters import normalized_tokens, rejection_reason, repeated_phrase


def segment(text: str, **scores: float) -> AsrSegment:
    return AsrSegment(0.0, 1.0, text, (), **scores)


@pytest.mark.parametrize(
    "text",
    [
        "Good evening, and welcome to the late news.",
        "No, no, no. That is not what we said.",  # three times is still speech
        "the the weather is fine",
    ],
)
def test_ordinary_speech_is_kept(text: str) -> None:
    assert rejection_reason(segment(text, avg_logprob=-0.3, compression_ratio=1.3)) is None


@pytest.mark.parametrize(
    "text",
    [
        "Thank you. Thank you. Thank you. Thank you.",
        "and so on and so on and so on and so on",
        "I'm going to go. go, go, go, go!",
    ],
)
def test_loops_are_discarded(text: str) -> None:
    reason = rejection_reason(segment(text, compression_ratio=1.5))
    assert reason is not None and reason.startswith("loop")


def test_high_compression_ratio_is_discarded() -> None:
    reason = rejection_reason(segment("whatever it says", compression_ratio=2.6))
    assert reason is not None and "compression" in reason


def test_confident_silence_is_discarded_but_uncertain_speech_kept() -> None:
    silent = segment("Thank you.", no_speech_prob=0.9, avg_logprob=-1.2)
    assert "no speech" in (rejection_reason(silent) or "")
    # High no_speech_prob alone is not enough: the words were decoded with confidence.
    assert rejection_reason(segment("Hello there.", no_speech_prob=0.9, avg_logprob=-0.3)) is None


def test_repeated_phrase_finds_the_shortest_loop() -> None:
    tokens = normalized_tokens("We said: so on, so on, so on, so on.")
    assert tokens == ["we", "said", "so", "on", "so", "on", "so", "on", "so", "on"]
    assert repeated_phrase(tokens, 4) == ["so", "on"]
    assert repeated_phrase(tokens, 5) is None
    assert repeated_phrase([], 4) is None


def test_a_segment_of_made_up_words_is_rejected() -> None:
    from captioncast.core.words import Word
    from captioncast.engines.asr.base import AsrSegment
    from captioncast.engines.asr.filters import rejection_reason

    made_up = tuple(
        Word(t, i * 0.3, i * 0.3 + 0.2, 0.01) for i, t in enumerate(["in", "the", "city."])
    )
    segment = AsrSegment(0.0, 1.0, "in the city.", made_up, avg_logprob=-1.4, no_speech_prob=0.03)
    assert rejection_reason(segment) is not None
    heard = tuple(Word(w.text, w.start, w.end, 0.8) for w in made_up)
    assert rejection_reason(AsrSegment(0.0, 1.0, "in the city.", heard, avg_logprob=-1.4)) is None
