"""Caption blocks: finished, non-overlapping stretches of final words shaped for reading."""

from __future__ import annotations

from dataclasses import dataclass

from captioncast.core.layout import CaptionLayout, break_quality, layout_lines, text_width
from captioncast.core.words import Word, ends_sentence


@dataclass(frozen=True, slots=True)
class CaptionBlock:
    words: tuple[Word, ...]
    lines: tuple[str, ...]
    start: float
    end: float

    @property
    def text(self) -> str:
        return " ".join(self.lines)


class CaptionSegmenter:
    """Groups final words into caption blocks.

    A block closes at a sentence end, at a pause of ``pause`` seconds, when the next word
    would not fit the layout (cut at the best phrase break), or when its first word is about
    to be ``max_latency`` old (``margin`` seconds before, so the block is out in time). Blocks
    never overlap: each starts no earlier than the previous one ends.
    """

    def __init__(
        self,
        layout: CaptionLayout | None = None,
        max_latency: float = 5.0,
        pause: float = 0.7,
        margin: float = 0.5,
        min_duration: float = 1.0,
        reading_rate: float = 3.0,
    ) -> None:
        self.layout = layout or CaptionLayout()
        self.max_latency = max_latency
        self.pause = pause
        self.margin = margin
        self.min_duration = min_duration
        self.reading_rate = reading_rate  # words a second: 180 a minute
        self._pending: list[Word] = []
        self._last_end = 0.0

    @property
    def pending(self) -> tuple[Word, ...]:
        return tuple(self._pending)

    def push(
        self, words: list[Word] | tuple[Word, ...], now: float, next_start: float | None = None
    ) -> list[CaptionBlock]:
        """Add final words (in order). ``now`` is the current audio time; ``next_start`` the
        start of the next word heard but not yet final, if any (it reveals a pause)."""
        blocks: list[CaptionBlock] = []
        for i, word in enumerate(words):
            if self._pending and word.start - self._pending[-1].end >= self.pause:
                blocks.append(self._close(len(self._pending), word.start))
            self._pending.append(word)
            while layout_lines(self._pending, self.layout) is None:
                blocks.append(self._close(self._best_cut()))
            if ends_sentence(word):
                upcoming = words[i + 1].start if i + 1 < len(words) else next_start
                blocks.append(self._close(len(self._pending), upcoming))
        return blocks + self.tick(now, next_start)

    def tick(self, now: float, next_start: float | None = None) -> list[CaptionBlock]:
        """Close the pending block if waiting longer would break ``max_latency``, or if the
        next word heard starts after a pause."""
        if not self._pending:
            return []
        first, last = self._pending[0], self._pending[-1]
        late = now >= first.start + self.max_latency - self.margin
        paused = next_start is not None and next_start - last.end >= self.pause
        return [self._close(len(self._pending), next_start)] if late or paused else []

    def flush(self) -> list[CaptionBlock]:
        return [self._close(len(self._pending))] if self._pending else []

    def _best_cut(self) -> int:
        """Where to end the block when the pending words overflow it: the best phrase break
        among the prefixes that fit, preferring fuller blocks."""
        capacity = self.layout.max_chars_per_line * self.layout.max_lines
        best, best_score = 1, float("-inf")
        for k in range(1, len(self._pending)):
            prefix = self._pending[:k]
            if layout_lines(prefix, self.layout) is None:
                break
            score = break_quality(self._pending, k - 1) + text_width(prefix) / capacity
            if score > best_score:
                best, best_score = k, score
        return best

    def _close(self, k: int, next_start: float | None = None) -> CaptionBlock:
        """The first ``k`` pending words as a block.

        The block stays on screen long enough to be read (``min_duration``, and no faster
        than ``reading_rate`` words a second) unless the next word is known to come sooner:
        a caption never runs into speech it would hide.
        """
        words, self._pending = tuple(self._pending[:k]), self._pending[k:]
        if self._pending:
            next_start = self._pending[0].start
        lines = layout_lines(words, self.layout) or [" ".join(w.text for w in words)]
        start = max(words[0].start, self._last_end)
        readable = start + max(self.min_duration, len(words) / self.reading_rate)
        if next_start is not None:
            readable = min(readable, max(next_start, start))
        end = max(words[-1].end, readable, start + 0.01)
        self._last_end = end
        return CaptionBlock(words, tuple(lines), round(start, 3), round(end, 3))
