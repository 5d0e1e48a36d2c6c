"""The ``response`` object of the wire schema (Kaltura REACH's live-caption format)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from captioncast.core.timeline import TimePoint
from captioncast.core.words import Word

ResponseType = Literal["transcript", "captions"]
ServiceType = Literal["transcription", "translation"]
Clock = Callable[[float], TimePoint]
Response = dict[str, Any]

_TRAILING_PUNCT = re.compile(r"^(.*?[\w\d])([^\w\d]+)$", re.UNICODE)


@dataclass(frozen=True, slots=True)
class ResponseContext:
    """What every response of one channel shares."""

    language: str
    service_type: ServiceType
    speaker_id: str
    clock: Clock


def word_items(word: Word, speaker_id: str) -> list[dict[str, Any]]:
    """One word as items: its text, then trailing punctuation as a separate ``punct`` item."""
    start, end = round(word.start, 3), round(word.end, 3)
    m = _TRAILING_PUNCT.match(word.text)
    if m is None:
        kind = "text" if re.search(r"\w", word.text) else "punct"
        return [
            {"start": start, "end": end, "kind": kind, "value": word.text, "speaker_id": speaker_id}
        ]
    return [
        {"start": start, "end": end, "kind": "text", "value": m.group(1), "speaker_id": speaker_id},
        {"start": end, "end": end, "kind": "punct", "value": m.group(2), "speaker_id": speaker_id},
    ]


def build_response(
    ctx: ResponseContext,
    *,
    response_id: str,
    type: ResponseType,
    words: Sequence[Word],
    start: float,
    end: float,
    is_final: bool,
    lines: Sequence[str] | None = None,
    is_end_of_stream: bool = False,
) -> Response:
    at = ctx.clock(start)
    transcript = " ".join(w.text for w in words)
    alternative: dict[str, Any] = {
        "transcript": transcript,
        "start": round(start, 3),
        "end": round(end, 3),
        "start_pts": at.pts,
        "start_epoch": at.epoch,
        "items": [item for w in words for item in word_items(w, ctx.speaker_id)],
    }
    if lines is not None:
        alternative["lines"] = list(lines)
    return {
        "id": response_id,
        "type": type,
        "service_type": ctx.service_type,
        "language_code": ctx.language,
        "start": round(start, 3),
        "end": round(end, 3),
        "start_pts": at.pts,
        "start_epoch": at.epoch,
        "sei_timestamp": at.sei_timestamp,
        "is_final": is_final,
        "is_end_of_stream": is_end_of_stream,
        "speakers": [{"id": ctx.speaker_id, "label": None}],
        "alternatives": [alternative],
    }
