"""A scripted recognizer for tests: words on an absolute timeline, returned per window.

The fake needs to know where on the stream's timeline the audio it is given starts. It gets
that from a shared ``AudioClock``: the test advances the clock by the duration of every chunk it
feeds to the code under test, and the fake assumes the window passed to ``transcribe`` *ends* at
the clock's current time (a streaming policy decodes its buffer up to the newest audio). Without
a clock it uses its ``window_start`` attribute, which a test sets directly.

Like a real model, the fake can be unsure of the newest words: the last ``unstable_words`` words
of a hypothesis are misspelled — differently on each call — until ``settle`` seconds of audio
follow them. A policy that commits on agreement between two hypotheses (LocalAgreement) never
commits a misspelling; one that trusts a single hypothesis does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from captioncast.core.audio import SAMPLE_RATE, Samples
from captioncast.core.words import Word, ends_sentence
from captioncast.engines.asr.base import AsrResult, AsrSegment

_WRONG_LETTERS = "xqzjvk"


class AudioClock:
    """The stream position shared by a test and the fake: seconds of audio fed so far."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (a chunk fed) and return the new position."""
        self.now += seconds
        return self.now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """What one ``transcribe`` call was asked, for assertions."""

    start: float
    end: float
    prompt: str
    language: str | None


class ScriptedAsrEngine:
    """An ``AsrEngine`` that reads its words from a script instead of listening.

    ``script`` holds words with absolute times. A word belongs to a window when its midpoint
    lies inside it; returned times are relative to the window start and clipped to it. Words
    are grouped into segments at sentence ends. ``elapsed`` is reported as ``latency`` seconds
    without sleeping.
    """

    name = "scripted"

    def __init__(
        self,
        script: Sequence[Word],
        *,
        clock: AudioClock | None = None,
        unstable_words: int = 0,
        settle: float = 1.0,
        latency: float = 0.0,
        language: str = "en",
    ) -> None:
        self.script = sorted(script, key=lambda w: w.start)
        self.clock = clock
        self.window_start = 0.0
        self.unstable_words = unstable_words
        self.settle = settle
        self.latency = latency
        self.language = language
        self.calls: list[ScriptedCall] = []

    @classmethod
    def from_spec(cls, model_spec: str, **options: Any) -> ScriptedAsrEngine:
        """Registry entry point: the model spec means nothing to a script and is ignored."""
        return cls(options.pop("script", ()), **options)

    def transcribe(self, audio: Samples, *, prompt: str, language: str | None) -> AsrResult:
        """The script's words inside the window that ``audio`` covers on the timeline."""
        duration = len(audio) / SAMPLE_RATE
        start = self.clock() - duration if self.clock is not None else self.window_start
        return self.transcribe_window(start, audio, prompt=prompt, language=language)

    def transcribe_window(
        self, start: float, audio: Samples, *, prompt: str, language: str | None
    ) -> AsrResult:
        """Like ``transcribe``, for a caller that knows the window's absolute ``start``."""
        duration = len(audio) / SAMPLE_RATE
        end = start + duration
        self.calls.append(ScriptedCall(start, end, prompt, language))
        inside = [w for w in self.script if start <= (w.start + w.end) / 2 < end]
        words = [self._heard(w, index, len(inside), end) for index, w in enumerate(inside)]
        segments = tuple(_segments(_relative(w, start, duration) for w in words))
        return AsrResult(segments, language=language or self.language, elapsed=self.latency)

    def _heard(self, word: Word, index: int, count: int, window_end: float) -> Word:
        unsure = index >= count - self.unstable_words and window_end - word.end < self.settle
        if not unsure:
            return word
        return Word(misspell(word.text, len(self.calls)), word.start, word.end, 0.3)


def script_from_text(
    text: str, *, start: float = 0.0, word_seconds: float = 0.4, gap: float = 0.1
) -> list[Word]:
    """Evenly timed words for ``text``: a quick way to write a script."""
    words = []
    t = start
    for token in text.split():
        words.append(Word(token, round(t, 6), round(t + word_seconds, 6)))
        t += word_seconds + gap
    return words


def misspell(text: str, variant: int) -> str:
    """A wrong version of ``text`` that differs for successive ``variant`` numbers."""
    core = text.rstrip(".,;:!?")
    tail = text[len(core) :]
    letter = _WRONG_LETTERS[variant % len(_WRONG_LETTERS)]
    return f"{core[:-1] if len(core) > 1 else core}{letter}{tail}"


def _segments(words: Iterable[Word]) -> Iterable[AsrSegment]:
    current: list[Word] = []
    for word in words:
        current.append(word)
        if ends_sentence(word):
            yield _segment(current)
            current = []
    if current:
        yield _segment(current)


def _segment(words: list[Word]) -> AsrSegment:
    text = " ".join(w.text for w in words)
    return AsrSegment(words[0].start, words[-1].end, text, tuple(words), avg_logprob=-0.2)


def _relative(word: Word, window_start: float, duration: float) -> Word:
    start = min(max(word.start - window_start, 0.0), duration)
    end = min(max(word.end - window_start, 0.0), duration)
    return Word(word.text, start, end, word.probability)
