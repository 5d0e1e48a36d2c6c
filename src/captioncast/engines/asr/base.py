"""The speech recognizer contract: audio in, timed words out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from captioncast.core.audio import Samples
from captioncast.core.words import Word


@dataclass(frozen=True, slots=True)
class AsrSegment:
    """One decoded segment; times are relative to the start of the audio passed in."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0


@dataclass(frozen=True, slots=True)
class AsrResult:
    segments: tuple[AsrSegment, ...]
    language: str | None = None
    elapsed: float = field(default=0.0, compare=False)

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


class AsrEngine(Protocol):
    """A speech recognizer. ``transcribe`` is blocking and may take seconds: call it from a
    worker thread or process, never from the event loop."""

    name: str

    def transcribe(self, audio: Samples, *, prompt: str, language: str | None) -> AsrResult:
        """Decode ``audio`` (16 kHz mono float32) once, with word timestamps.

        ``prompt`` is previously committed text to condition on. Must not run a temperature
        fallback or any other unbounded retry: one call, one decode.
        """
        ...
