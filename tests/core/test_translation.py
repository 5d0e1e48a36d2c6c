"""Spans to translate, and timings for the words that come back: pure, no engine."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from captioncast.core.captioner import Captioner
from captioncast.core.layout import CaptionLayout
from captioncast.core.messages import ResponseContext
from captioncast.core.timeline import TimePoint
from captioncast.core.translation import (
    SentenceCollector,
    SourceSpan,
    spread_words,
    translated_update,
)
from captioncast.core.words import Word


def words(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [Word(t, start + i * step, start + i * step + 0.3) for i, t in enumerate(text.split())]


def texts(spans: list[SourceSpan]) -> list[str]:
    return [s.text for s in spans]


def test_a_span_closes_at_each_sentence_end() -> None:
    collector = SentenceCollector(max_latency=10.0)
    spans = collector.push(words("Good evening. The rain came early.", 1.0), now=4.0)
    assert texts(spans) == ["Good evening.", "The rain came early."]
    assert collector.pending == ()


def test_a_sentence_waits_for_its_end_until_its_deadline() -> None:
    collector = SentenceCollector(max_latency=5.0, margin=0.5, allowance=0.5)
    first = words("The city council has", 1.0)
    assert collector.push(first, now=2.5) == []
    assert collector.tick(now=4.9) == []
    # 1.0 + 5.0 - 0.5 - 0.5: the engine's expected time is left before the max latency.
    assert texts(collector.tick(now=5.0)) == ["The city council has"]


def test_a_pause_or_the_end_of_the_utterance_closes_a_span() -> None:
    collector = SentenceCollector(max_latency=10.0, pause=0.7)
    spans = collector.push(words("heavy rain", 1.0) + words("along the coast", 3.0), now=4.5)
    assert texts(spans) == ["heavy rain"]
    assert collector.push([], now=4.6, next_start=5.0) == [
        SourceSpan(tuple(words("along the coast", 3.0)))
    ]
    assert texts(collector.push(words("tonight", 6.0), now=6.5, utterance_ended=True)) == [
        "tonight"
    ]


def test_a_run_on_is_cut_at_max_chars() -> None:
    collector = SentenceCollector(max_latency=100.0, max_chars=20)
    spans = collector.push(words("one two three four five six seven", 0.0, step=0.1), now=1.0)
    assert texts(spans) == [
        "one two three four five",
    ]
    assert [w.text for w in collector.pending] == ["six", "seven"]


def test_a_merged_span_covers_both() -> None:
    a, b = SourceSpan(tuple(words("one two", 1.0))), SourceSpan(tuple(words("three", 3.0)))
    merged = a.merged(b)
    assert merged.text == "one two three" and (merged.start, merged.end) == (1.0, 3.3)


def test_words_are_spread_in_proportion_to_their_length() -> None:
    spread = spread_words("La lluvia vino temprano.", 2.0, 4.0)
    assert [w.text for w in spread] == ["La", "lluvia", "vino", "temprano."]
    assert spread[0].start == 2.0 and spread[-1].end == 4.0
    durations = [w.end - w.start for w in spread]
    assert durations[0] < durations[2] < durations[1] < durations[3]
    assert all(a.end == b.start for a, b in zip(spread, spread[1:], strict=False))


def test_nothing_to_spread() -> None:
    assert spread_words("   ", 1.0, 2.0) == ()
    (only,) = spread_words("Hola.", 3.0, 3.0)  # an instant: every word in it
    assert (only.start, only.end) == (3.0, 3.0)


@given(
    st.lists(st.text(st.characters(categories=["L", "P"]), min_size=1, max_size=12), max_size=40),
    st.floats(0, 10_000, allow_nan=False),
    st.floats(0, 60, allow_nan=False),
)
def test_spread_words_are_monotonic_and_inside_the_span(
    tokens: list[str], start: float, length: float
) -> None:
    spread = spread_words(" ".join(tokens), start, start + length)
    assert len(spread) == len(" ".join(tokens).split())
    for w in spread:
        assert start <= w.start <= w.end <= start + length
    assert all(a.end <= b.start for a, b in zip(spread, spread[1:], strict=False))


def test_a_translated_span_becomes_captions_in_the_target_language() -> None:
    ctx = ResponseContext(
        "es", "translation", "spk", lambda t: TimePoint(t, None, 1000.0 + t, None)
    )
    captioner = Captioner(ctx, CaptionLayout(max_chars_per_line=20, max_lines=2), max_latency=5.0)
    span = SourceSpan(tuple(words("Heavy rain is expected along the coast tonight.", 10.0)))
    text = "Se espera lluvia intensa a lo largo de la costa esta noche."
    responses = captioner.update(translated_update(text, span), now=14.0)
    final, *captions = responses
    assert final["type"] == "transcript" and final["is_final"]
    assert final["alternatives"][0]["transcript"] == text
    assert captions and all(c["type"] == "captions" for c in captions)
    assert " ".join(c["alternatives"][0]["transcript"] for c in captions) == text
    for c in responses:
        assert c["language_code"] == "es" and c["service_type"] == "translation"
    for c in captions:
        assert all(len(line) <= 20 for line in c["alternatives"][0]["lines"])
        assert len(c["alternatives"][0]["lines"]) <= 2
        items = c["alternatives"][0]["items"]
        assert all(span.start <= i["start"] <= i["end"] <= span.end for i in items)
