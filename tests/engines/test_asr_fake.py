"""The scripted engine: windows on an absolute timeline and simulated instability."""

from __future__ import annotations

import numpy as np

from captioncast.core.audio import SAMPLE_RATE
from captioncast.core.words import Word
from captioncast.engines.asr.fake import (
    AudioClock,
    ScriptedAsrEngine,
    misspell,
    script_from_text,
)

TEXT = "Good evening. Heavy rain is expected tonight."


def audio(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), np.float32)


def texts(engine: ScriptedAsrEngine, seconds: float) -> list[str]:
    return [w.text for w in engine.transcribe(audio(seconds), prompt="", language="en").words]


def test_script_from_text_spaces_words_evenly() -> None:
    words = script_from_text("a b c", start=1.0, word_seconds=0.4, gap=0.1)
    assert [(w.text, w.start, w.end) for w in words] == [
        ("a", 1.0, 1.4),
        ("b", 1.5, 1.9),
        ("c", 2.0, 2.4),
    ]


def test_window_start_selects_words_by_midpoint_and_shifts_times() -> None:
    engine = ScriptedAsrEngine(script_from_text(TEXT))  # words every 0.5 s from 0
    engine.window_start = 0.9
    result = engine.transcribe(audio(1.2), prompt="", language=None)
    # "evening." 0.5-0.9 (mid 0.7) is out; "Heavy" 1.0-1.4 and "rain" 1.5-1.9 are in;
    # "is" 2.0-2.4 has its midpoint 2.2 past the window end 2.1.
    assert [(w.text, round(w.start, 6), round(w.end, 6)) for w in result.words] == [
        ("Heavy", 0.1, 0.5),
        ("rain", 0.6, 1.0),
    ]
    assert result.language == "en"


def test_clock_places_the_window_at_the_newest_audio() -> None:
    clock = AudioClock()
    engine = ScriptedAsrEngine(script_from_text(TEXT), clock=clock)
    clock.advance(1.0)
    assert texts(engine, 1.0) == ["Good", "evening."]
    clock.advance(1.5)
    assert texts(engine, 1.5) == ["Heavy", "rain", "is"]  # window 1.0-2.5
    assert [(c.start, c.end) for c in engine.calls] == [(0.0, 1.0), (1.0, 2.5)]


def test_segments_split_at_sentence_ends() -> None:
    engine = ScriptedAsrEngine(script_from_text(TEXT))
    result = engine.transcribe(audio(4.0), prompt="Before.", language="en")
    assert [s.text for s in result.segments] == [
        "Good evening.",
        "Heavy rain is expected tonight.",
    ]
    assert engine.calls[0].prompt == "Before."


def test_transcribe_window_takes_an_explicit_start() -> None:
    engine = ScriptedAsrEngine([Word("late", 10.0, 10.4)])
    result = engine.transcribe_window(9.5, audio(1.0), prompt="", language="en")
    assert [(w.text, w.start) for w in result.words] == [("late", 0.5)]


def test_unsettled_last_word_is_misspelled_differently_each_time() -> None:
    clock = AudioClock()
    engine = ScriptedAsrEngine(script_from_text(TEXT), clock=clock, unstable_words=1, settle=0.5)
    clock.advance(1.5)
    first = texts(engine, 1.5)  # "Heavy" ends at 1.4, only 0.1 s before the window end
    second = texts(engine, 1.5)
    assert first[:-1] == second[:-1] == ["Good", "evening."]
    assert "Heavy" not in (first[-1], second[-1]) and first[-1] != second[-1]
    clock.advance(0.5)  # now 0.6 s of audio follow "Heavy": it settles
    third = texts(engine, 2.0)
    assert third[:3] == ["Good", "evening.", "Heavy"] and third[-1] != "rain"


def test_agreement_of_two_hypotheses_never_contains_a_misspelling() -> None:
    """What a LocalAgreement-2 policy relies on: the common prefix is right."""
    script = script_from_text(TEXT)
    truth = [w.text for w in script]
    clock = AudioClock()
    engine = ScriptedAsrEngine(script, clock=clock, unstable_words=2, settle=0.7)
    previous: list[str] = []
    for _ in range(15):  # 4.8 s: past the script's end (3.4 s) plus settle
        clock.advance(0.32)
        current = texts(engine, clock.now)
        agreed = []
        for a, b in zip(previous, current, strict=False):
            if a != b:
                break
            agreed.append(a)
        assert agreed == truth[: len(agreed)]
        previous = current
    assert previous == truth  # everything settled once the audio ran past the script


def test_misspell_changes_the_word_and_keeps_punctuation() -> None:
    assert misspell("rain,", 0) != "rain,"
    assert misspell("rain,", 0).endswith(",")
    assert misspell("rain", 0) != misspell("rain", 1)
    assert misspell("a", 2) != "a"


def test_latency_is_reported_as_elapsed() -> None:
    engine = ScriptedAsrEngine([], latency=0.25)
    assert engine.transcribe(audio(1.0), prompt="", language="en").elapsed == 0.25
