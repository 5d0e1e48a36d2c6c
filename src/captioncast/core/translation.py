"""Translation, the pure part: which source words go out together, and timings for the
words that come back.

A :class:`SentenceCollector` groups the source language's final words into
:class:`SourceSpan`\\ s, the units sent to a translation engine: a sentence where possible
(engines translate sentences, not fragments), cut short by a pause, the end of an utterance,
or a deadline that leaves the engine time to answer before the flow's max latency.

An engine returns text without timings; :func:`spread_words` lays the translated words over
the span's audio, in proportion to their length, and :func:`translated_update` hands them to
a target language's :class:`~captioncast.core.captioner.Captioner` as one closed utterance,
so translated captions follow the same layout and block rules as the source's.
"""

from __future__ import annotations

from dataclasses import dataclass

from captioncast.core.policy import PolicyUpdate
from captioncast.core.words import Word, ends_sentence, join_words


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """Consecutive final source words, translated as one text."""

    words: tuple[Word, ...]

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    @property
    def text(self) -> str:
        return join_words(self.words)

    def merged(self, later: SourceSpan) -> SourceSpan:
        return SourceSpan(self.words + later.words)


class SentenceCollector:
    """Groups final source words into spans to translate.

    A span closes at a sentence end, at a pause of ``pause`` seconds, at the end of an
    utterance, past ``max_chars`` characters, or when its first word is about to be
    ``max_latency`` old: ``margin`` seconds before, less ``allowance``, the time the engine
    is expected to take (the driver keeps it current from measured translation times).
    """

    def __init__(
        self,
        max_latency: float = 5.0,
        pause: float = 0.7,
        margin: float = 0.5,
        allowance: float = 0.5,
        max_chars: int = 400,
    ) -> None:
        self.max_latency = max_latency
        self.pause = pause
        self.margin = margin
        self.allowance = allowance
        self.max_chars = max_chars
        self._pending: list[Word] = []
        self._chars = 0

    @property
    def pending(self) -> tuple[Word, ...]:
        return tuple(self._pending)

    def push(
        self,
        words: tuple[Word, ...] | list[Word],
        now: float,
        utterance_ended: bool = False,
        next_start: float | None = None,
    ) -> list[SourceSpan]:
        """Add final words (in order); ``now`` is the audio time received so far,
        ``next_start`` the start of the next word heard but not yet final."""
        spans: list[SourceSpan] = []
        for word in words:
            if self._pending and word.start - self._pending[-1].end >= self.pause:
                spans += self.flush()
            self._pending.append(word)
            self._chars += len(word.text) + 1
            if ends_sentence(word) or self._chars > self.max_chars:
                spans += self.flush()
        if utterance_ended:
            return spans + self.flush()
        return spans + self.tick(now, next_start)

    def tick(self, now: float, next_start: float | None = None) -> list[SourceSpan]:
        """Close the pending span if its deadline came, or the next word follows a pause."""
        if not self._pending:
            return []
        deadline = self._pending[0].start + self.max_latency - self.margin - self.allowance
        paused = next_start is not None and next_start - self._pending[-1].end >= self.pause
        return self.flush() if now >= deadline or paused else []

    def flush(self) -> list[SourceSpan]:
        if not self._pending:
            return []
        span = SourceSpan(tuple(self._pending))
        self._pending, self._chars = [], 0
        return [span]


def spread_words(text: str, start: float, end: float) -> tuple[Word, ...]:
    """The words of ``text`` laid end to end over ``[start, end]``, each given time in
    proportion to its length (plus one, for the space): monotonic, inside the bounds."""
    tokens = text.split()
    if not tokens:
        return ()
    end = max(end, start)
    weights = [len(t) + 1 for t in tokens]
    total = float(sum(weights))
    bounds, acc = [start], 0
    for weight in weights:
        acc += weight
        bounds.append(start + (end - start) * acc / total)
    bounds[-1] = end
    rounded = [min(max(round(b, 3), start), end) for b in bounds]
    return tuple(Word(t, a, b) for t, a, b in zip(tokens, rounded, rounded[1:], strict=False))


def translated_update(text: str, span: SourceSpan) -> PolicyUpdate:
    """The translation of ``span`` as a closed utterance for a target language's captioner."""
    return PolicyUpdate(committed=spread_words(text, span.start, span.end), utterance_ended=True)
