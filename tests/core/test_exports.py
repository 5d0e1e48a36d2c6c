"""Transcript exports, parsed back with real WebVTT and SRT readers."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import timedelta

import pytest
import srt
import webvtt

from captioncast.core.exports import (
    TEXT_FORMATS,
    TranscriptCue,
    cue_from_response,
    display_lines,
    to_json_cues,
    to_srt,
    to_text,
    to_webvtt,
)
from captioncast.core.messages import ResponseContext, build_response
from captioncast.core.timeline import TimePoint
from captioncast.core.words import Word

CTX = ResponseContext("en", "transcription", "spk", lambda t: TimePoint(t, t + 100, t + 1e9, t + 7))
TIMING = re.compile(r"^\d{2,}:\d{2}:\d{2}\.\d{3} --> \d{2,}:\d{2}:\d{2}\.\d{3}$")


def cue(
    start: float, end: float, *lines: str, text: str | None = None, cid: str = "c"
) -> TranscriptCue:
    return TranscriptCue(
        id=cid,
        language="en",
        service_type="transcription",
        channel="demo-en-en",
        start=start,
        end=end,
        start_pts=start + 100,
        start_epoch=start + 1e9,
        sei_timestamp=None,
        text=" ".join(lines) if text is None else text,
        lines=lines,
    )


def parse_vtt(text: str) -> list[webvtt.Caption]:
    for line in text.splitlines():
        assert "-->" not in line or TIMING.match(line), line
    captions: list[webvtt.Caption] = webvtt.WebVTT.from_string(text, strict=True).captions
    starts = [c.start_time.in_milliseconds() for c in captions]
    assert starts == sorted(starts)  # WebVTT wants cues in start order
    return captions


def test_a_final_captions_response_makes_a_cue() -> None:
    words = [Word("Hello", 1.0, 1.4), Word("world.", 1.5, 2.0)]
    response = build_response(
        CTX,
        response_id="r1",
        type="captions",
        words=words,
        start=1.0,
        end=2.0,
        is_final=True,
        lines=["Hello", "world."],
    )
    assert cue_from_response("demo-en-en", response) == TranscriptCue(
        id="r1",
        language="en",
        service_type="transcription",
        channel="demo-en-en",
        start=1.0,
        end=2.0,
        start_pts=101.0,
        start_epoch=1e9 + 1.0,
        sei_timestamp=8.0,
        text="Hello world.",
        lines=("Hello", "world."),
    )


@pytest.mark.parametrize(
    ("kind", "final", "words"),
    [
        ("transcript", True, [Word("Hello.", 0.0, 1.0)]),  # transcripts are not captions
        ("captions", False, [Word("Hello.", 0.0, 1.0)]),  # only finals
        ("captions", True, []),  # nothing said
    ],
)
def test_other_responses_make_no_cue(kind: str, final: bool, words: list[Word]) -> None:
    response = build_response(
        CTX,
        response_id="r",
        type=kind,  # type: ignore[arg-type]
        words=words,
        start=0.0,
        end=1.0,
        is_final=final,
        lines=[w.text for w in words],
    )
    assert cue_from_response("demo-en-en", response) is None


def test_webvtt_round_trip() -> None:
    cues = [
        cue(0.0, 1.5, "Hello there,", "general Kenobi."),
        cue(3723.456, 3725.0, "One hour in."),
    ]
    out = to_webvtt(cues)
    assert out.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there,\n")
    assert "01:02:03.456 --> 01:02:05.000" in out
    captions = parse_vtt(out)
    assert [c.lines for c in captions] == [["Hello there,", "general Kenobi."], ["One hour in."]]
    assert [(c.start_time.in_milliseconds(), c.end_time.in_milliseconds()) for c in captions] == [
        (0, 1500),
        (3_723_456, 3_725_000),
    ]


TRICKY = [
    ("a < b & c > d", ["a < b & c > d"]),
    ("<b>bold</b> &amp; <c.x>", ["<b>bold</b> &amp; <c.x>"]),
    ("x --> y", ["x --> y"]),
    ("Größe — 日本語 🎉 ", ["Größe — 日本語 🎉"]),
    ("first\n\nsecond\r\nthird", ["first", "second", "third"]),
    ("nul\x00 and bell\x07", ["nul and bell"]),
    ("WEBVTT", ["WEBVTT"]),
    ("00:00:01.000 --> 00:00:02.000", ["00:00:01.000 --> 00:00:02.000"]),
    ("1", ["1"]),
]


@pytest.mark.parametrize(("line", "shown"), TRICKY)
def test_tricky_text_stays_valid_webvtt(line: str, shown: list[str]) -> None:
    cues = [cue(0.0, 1.0, "", line, "  "), cue(2.0, 3.0, "after")]
    captions = parse_vtt(to_webvtt(cues))
    assert [html.unescape(x) for x in captions[0].lines] == shown
    assert captions[1].text == "after" and captions[1].start_time.in_milliseconds() == 2000


@pytest.mark.parametrize(("line", "shown"), TRICKY)
def test_tricky_text_stays_valid_srt(line: str, shown: list[str]) -> None:
    cues = [cue(0.0, 1.0, "", line, "  "), cue(2.0, 3.0, "after")]
    subtitles = list(srt.parse(to_srt(cues)))
    assert [s.content for s in subtitles] == [
        "\n".join(x.replace("-->", "->") for x in shown),
        "after",
    ]
    assert [s.index for s in subtitles] == [1, 2]
    assert subtitles[1].start == timedelta(seconds=2)


def test_srt_round_trip() -> None:
    cues = [cue(0.25, 1.5, "Hello there,", "general Kenobi."), cue(61.001, 62.0, "Later.")]
    out = to_srt(cues)
    assert out.startswith("1\n00:00:00,250 --> 00:00:01,500\nHello there,\ngeneral Kenobi.\n\n2\n")
    subtitles = list(srt.parse(out))
    assert [(s.index, s.start, s.end, s.content) for s in subtitles] == [
        (1, timedelta(milliseconds=250), timedelta(seconds=1.5), "Hello there,\ngeneral Kenobi."),
        (2, timedelta(milliseconds=61_001), timedelta(seconds=62), "Later."),
    ]
    assert srt.compose(subtitles, reindex=False) == out


def test_odd_times_still_make_valid_files() -> None:
    cues = [
        cue(5.0, 5.0, "zero length"),
        cue(-1.0, -0.5, "before zero"),
        cue(2.0, 1.0, "ends before it starts"),
        cue(4.0, 9.0, "overlaps the next"),
        cue(4.5, 6.0, "overlapped"),
        cue(7.0, 7.0004, "rounds to zero length"),
    ]
    spans = [
        (c.start_time.in_milliseconds(), c.end_time.in_milliseconds())
        for c in parse_vtt(to_webvtt(cues))
    ]
    assert spans == [(0, 1), (2000, 2001), (4000, 9000), (4500, 6000), (5000, 5001), (7000, 7001)]
    subtitles = list(srt.parse(to_srt(cues)))
    assert [s.content for s in subtitles][:2] == ["before zero", "ends before it starts"]
    assert all(timedelta(0) <= s.start < s.end for s in subtitles)
    assert [s.index for s in subtitles] == [1, 2, 3, 4, 5, 6]


def test_cues_without_text_are_left_out() -> None:
    cues = [cue(0.0, 1.0, "", "  ", text=" "), cue(1.0, 2.0, "kept")]
    assert [c.text for c in parse_vtt(to_webvtt(cues))] == ["kept"]
    assert [s.index for s in srt.parse(to_srt(cues))] == [1]
    assert to_text(cues) == "kept\n"


def test_lines_fall_back_to_the_text() -> None:
    no_lines = cue(0.0, 1.0, text="only text")
    assert display_lines(no_lines) == ["only text"]
    assert [c.text for c in parse_vtt(to_webvtt([no_lines]))] == ["only text"]


def test_empty_transcripts() -> None:
    assert to_webvtt([]) == "WEBVTT\n"
    assert parse_vtt(to_webvtt([])) == []
    assert to_srt([]) == "" and to_text([]) == "" and to_json_cues([]) == []


def test_text_paragraphs_break_at_a_sentence_end_followed_by_a_pause() -> None:
    cues = [
        cue(0.0, 1.0, "It was a dark", "and stormy night."),
        cue(1.2, 2.0, "The rain fell."),  # no pause: same paragraph
        cue(4.5, 5.0, "Meanwhile,"),  # a pause after a sentence: new paragraph
        cue(8.0, 9.0, "in a castle", '"far away."'),  # a pause mid-sentence: same paragraph
        cue(12.0, 13.0, "The end."),  # closing quote still ends the sentence
    ]
    assert to_text(cues) == (
        "It was a dark and stormy night. The rain fell.\n\n"
        'Meanwhile, in a castle "far away."\n\n'
        "The end.\n"
    )


def test_json_cues_in_start_order() -> None:
    late, early = cue(5.0, 6.0, "late", cid="b"), cue(1.0, 2.0, "early", "two", cid="a")
    assert to_json_cues([late, early]) == [
        {
            "id": "a",
            "start": 1.0,
            "end": 2.0,
            "text": "early two",
            "lines": ["early", "two"],
            "start_pts": 101.0,
            "start_epoch": 1e9 + 1.0,
            "sei_timestamp": None,
        },
        {
            "id": "b",
            "start": 5.0,
            "end": 6.0,
            "text": "late",
            "lines": ["late"],
            "start_pts": 105.0,
            "start_epoch": 1e9 + 5.0,
            "sei_timestamp": None,
        },
    ]


def test_text_formats_registry() -> None:
    one = [replace(cue(0.0, 1.0, "hi"), lines=())]
    assert {name: f.extension for name, f in TEXT_FORMATS.items()} == {
        "vtt": "vtt",
        "srt": "srt",
        "txt": "txt",
    }
    assert TEXT_FORMATS["vtt"].render(one) == to_webvtt(one)
    assert TEXT_FORMATS["srt"].media_type == "application/x-subrip; charset=utf-8"
