"""A flow's transcript: its cues (one per final caption block) and the files made from them.

Pure functions, no I/O. Every format keeps its files valid whatever the cues hold:

- times are whole milliseconds, never negative, and every cue lasts at least 1 ms;
- cues come out in start order (WebVTT requires it); overlapping cues stay as they are;
- a cue's text is its caption ``lines``; line breaks inside a line and blank lines are
  dropped (a blank line would end the cue), and so are control characters;
- WebVTT escapes ``&``, ``<`` and ``>``, so ``-->`` never appears in a cue's text; SRT, which
  has no escapes, writes ``-->`` as ``->``.

Plain text joins the cues with spaces into paragraphs; a new paragraph starts where a
sentence ends and the speaker then pauses for ``PARAGRAPH_PAUSE`` seconds or more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from captioncast.core.messages import Response
from captioncast.core.words import SENTENCE_END

PARAGRAPH_PAUSE = 2.0
_CLOSING_QUOTES = "\"')]»”’"


@dataclass(frozen=True, slots=True)
class TranscriptCue:
    """One final caption block of one language, as the wire ``captions`` response had it.

    Times are the flow's audio time in seconds; ``start_pts``, ``start_epoch`` and
    ``sei_timestamp`` are the other clocks at ``start`` (see ``core.timeline``).
    """

    id: str
    language: str
    service_type: str
    channel: str
    start: float
    end: float
    start_pts: float | None
    start_epoch: float
    sei_timestamp: float | None
    text: str
    lines: tuple[str, ...]


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def cue_from_response(channel: str, response: Response) -> TranscriptCue | None:
    """The cue a wire response makes, or None: only final ``captions`` with text count."""
    if response.get("type") != "captions" or not response.get("is_final"):
        return None
    alternatives = response.get("alternatives") or [{}]
    best = alternatives[0]
    lines = tuple(str(line) for line in best.get("lines") or ())
    text = str(best.get("transcript") or "").strip() or " ".join(lines).strip()
    if not text:
        return None
    return TranscriptCue(
        id=str(response["id"]),
        language=str(response["language_code"]),
        service_type=str(response["service_type"]),
        channel=channel,
        start=float(response["start"]),
        end=float(response["end"]),
        start_pts=_optional_float(response.get("start_pts")),
        start_epoch=float(response["start_epoch"]),
        sei_timestamp=_optional_float(response.get("sei_timestamp")),
        text=text,
        lines=lines,
    )


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000)) if math.isfinite(seconds) else 0


def cue_span_ms(cue: TranscriptCue) -> tuple[int, int]:
    """The cue's start and end in whole milliseconds: ``0 <= start < end``."""
    start = _ms(cue.start)
    return start, max(_ms(cue.end), start + 1)


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def vtt_time(seconds: float) -> str:
    """A WebVTT timestamp, ``HH:MM:SS.mmm``, in whole milliseconds and never negative (hours
    may grow past two digits)."""
    return _clock(_ms(seconds), ".")


def _clean(line: str) -> str:
    return "".join(ch for ch in line if ch == "\t" or ch >= " " and ch != "\x7f").strip()


def display_lines(cue: TranscriptCue) -> list[str]:
    """The cue's text as non-blank lines without line breaks or control characters."""
    for source in (cue.lines, (cue.text,)):
        lines = [_clean(part) for line in source for part in line.splitlines()]
        lines = [line for line in lines if line]
        if lines:
            return lines
    return []


def _in_order(cues: Sequence[TranscriptCue]) -> list[TranscriptCue]:
    return sorted(cues, key=lambda cue: cue_span_ms(cue)[0])


def vtt_escape(text: str) -> str:
    """WebVTT cue text with ``&``, ``<`` and ``>`` escaped (so it never holds ``-->``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_webvtt(cues: Sequence[TranscriptCue]) -> str:
    """A WebVTT file (``text/vtt``)."""
    blocks = ["WEBVTT\n"]
    for cue in _in_order(cues):
        lines = display_lines(cue)
        if not lines:
            continue
        start, end = cue_span_ms(cue)
        timing = f"{_clock(start, '.')} --> {_clock(end, '.')}"
        blocks.append("\n".join([timing, *(vtt_escape(line) for line in lines)]) + "\n")
    return "\n".join(blocks)


def to_srt(cues: Sequence[TranscriptCue]) -> str:
    """A SubRip file (``application/x-subrip``), numbered from 1; every cue ends with a
    blank line, as ``srt.compose`` writes them."""
    blocks: list[str] = []
    for cue in _in_order(cues):
        lines = [line.replace("-->", "->") for line in display_lines(cue)]
        if not lines:
            continue
        start, end = cue_span_ms(cue)
        timing = f"{_clock(start, ',')} --> {_clock(end, ',')}"
        blocks.append("\n".join([str(len(blocks) + 1), timing, *lines]) + "\n\n")
    return "".join(blocks)


def _ends_sentence(text: str) -> bool:
    return text.rstrip(_CLOSING_QUOTES).endswith(SENTENCE_END)


def to_text(cues: Sequence[TranscriptCue]) -> str:
    """Plain text: paragraphs separated by a blank line (see the module docstring)."""
    paragraphs: list[list[str]] = []
    previous: TranscriptCue | None = None
    for cue in _in_order(cues):
        text = " ".join(display_lines(cue))
        if not text:
            continue
        pause = previous is not None and cue.start - previous.end >= PARAGRAPH_PAUSE
        if not paragraphs or (pause and _ends_sentence(paragraphs[-1][-1])):
            paragraphs.append([])
        paragraphs[-1].append(text)
        previous = cue
    return "".join(" ".join(p) + "\n\n" for p in paragraphs).removesuffix("\n")


def cue_json(cue: TranscriptCue) -> dict[str, Any]:
    """One cue as the JSON format shows it."""
    return {
        "id": cue.id,
        "start": cue.start,
        "end": cue.end,
        "text": cue.text,
        "lines": list(cue.lines),
        "start_pts": cue.start_pts,
        "start_epoch": cue.start_epoch,
        "sei_timestamp": cue.sei_timestamp,
    }


def to_json_cues(cues: Sequence[TranscriptCue]) -> list[dict[str, Any]]:
    """The cues as JSON objects, in start order."""
    return [cue_json(cue) for cue in _in_order(cues)]


@dataclass(frozen=True, slots=True)
class TextFormat:
    """A text export: its media type, file extension and renderer."""

    media_type: str
    extension: str
    render: Callable[[Sequence[TranscriptCue]], str]


TEXT_FORMATS: dict[str, TextFormat] = {
    "vtt": TextFormat("text/vtt; charset=utf-8", "vtt", to_webvtt),
    "srt": TextFormat("application/x-subrip; charset=utf-8", "srt", to_srt),
    "txt": TextFormat("text/plain; charset=utf-8", "txt", to_text),
}
