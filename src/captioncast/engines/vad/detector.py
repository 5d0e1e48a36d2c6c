"""Turn per-frame speech probabilities into speech start and end events (pure, no I/O).

Hysteresis as in Silero's own ``get_speech_timestamps``: speech begins when a frame reaches
``threshold`` and is confirmed once ``min_speech`` has passed since then without falling silent
(short dips, as between words, do not cancel it); it ends after ``min_silence`` of frames below
``neg_threshold``; frames in between neither start nor end anything. Reported
times are padded by ``pad`` on both sides so that cutting audio at them keeps soft word edges.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from captioncast.engines.vad.base import FRAME_SECONDS


@dataclass(frozen=True, slots=True)
class SpeechStart:
    """Speech began at ``time`` (seconds, padding included); reported ``min_speech`` later."""

    time: float


@dataclass(frozen=True, slots=True)
class SpeechEnd:
    """Speech ended at ``time`` (seconds, padding included); reported ``min_silence`` later."""

    time: float


SpeechEvent = SpeechStart | SpeechEnd


class SpeechDetector:
    """Feed it frame probabilities in order; it returns the events they complete.

    Times count from ``start_time`` at frame 0, ``frame_seconds`` per frame.
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        neg_threshold: float = 0.35,
        min_speech: float = 0.25,
        min_silence: float = 0.5,
        pad: float = 0.2,
        frame_seconds: float = FRAME_SECONDS,
        start_time: float = 0.0,
    ) -> None:
        if not 0.0 <= neg_threshold <= threshold <= 1.0:
            raise ValueError("need 0 <= neg_threshold <= threshold <= 1")
        self.threshold = threshold
        self.neg_threshold = neg_threshold
        self.min_speech = min_speech
        self.min_silence = min_silence
        self.pad = min(pad, min_silence)  # the end is only known min_silence after it
        self.frame_seconds = frame_seconds
        self.start_time = start_time
        self._frame = 0
        self._onset: int | None = None  # first frame of speech, pending or confirmed
        self._speaking = False
        self._silence_from: int | None = None
        self._last_end = start_time

    @property
    def in_speech(self) -> bool:
        """True between a reported start and its end."""
        return self._speaking

    @property
    def time(self) -> float:
        """The time up to which frames have been seen."""
        return self._at(self._frame)

    def feed(self, probabilities: Iterable[float]) -> list[SpeechEvent]:
        """Consume frame probabilities; return the events they complete, in order."""
        events: list[SpeechEvent] = []
        for p in probabilities:
            event = self._step(p)
            self._frame += 1
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SpeechEvent]:
        """End of stream: close open speech at the last frame seen (padded, not past it)."""
        if not self._speaking:
            self._onset = None
            return []
        end = self._silence_from if self._silence_from is not None else self._frame
        self._reset_speech()
        return [SpeechEnd(min(self._at(end) + self.pad, self.time))]

    def _step(self, p: float) -> SpeechEvent | None:
        i = self._frame
        if self._onset is None:
            if p < self.threshold:
                return None
            self._onset = i
        if p >= self.threshold:
            self._silence_from = None
        elif p < self.neg_threshold and self._silence_from is None:
            self._silence_from = i
        if self._silence_from is not None:
            silent = (i + 1 - self._silence_from) * self.frame_seconds
            if silent + 1e-9 < self.min_silence:
                return None
            # A blip shorter than min_speech that fell silent again is dropped unreported.
            event = SpeechEnd(self._at(self._silence_from) + self.pad) if self._speaking else None
            self._reset_speech()
            if event is not None:
                self._last_end = event.time
            return event
        if not self._speaking and (i + 1 - self._onset) * self.frame_seconds + 1e-9 >= (
            self.min_speech
        ):
            self._speaking = True
            return SpeechStart(max(self._at(self._onset) - self.pad, self._last_end))
        return None

    def _reset_speech(self) -> None:
        self._speaking = False
        self._onset = None
        self._silence_from = None

    def _at(self, frame: int) -> float:
        return self.start_time + frame * self.frame_seconds
