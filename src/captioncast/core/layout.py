"""Breaking caption text into lines that read well."""

from __future__ import annotations

from dataclasses import dataclass

from captioncast.core.words import Word, ends_clause, ends_sentence

# Words a line should rather start with than end with (English; harmless elsewhere).
FUNCTION_WORDS = frozenset(
    "a an the and but or nor so yet for of to in on at by with from into onto about as than "
    "that which who whom whose when where while because if unless although though since until "
    "after before is are was were be been i you he she it we they my your his her its our their "
    "this these those not".split()
)


@dataclass(frozen=True, slots=True)
class CaptionLayout:
    max_chars_per_line: int = 37
    max_lines: int = 2


def break_quality(words: list[Word] | tuple[Word, ...], i: int, pause: float = 0.25) -> float:
    """How good a place the boundary after ``words[i]`` is for a line or block break."""
    w = words[i]
    score = 0.0
    if ends_sentence(w):
        score = 3.0
    elif ends_clause(w):
        score = 2.0
    if i + 1 < len(words):
        nxt = words[i + 1]
        if nxt.start - w.end >= pause:
            score = max(score, 1.5)
        if nxt.text.lower().strip("\"'") in FUNCTION_WORDS:
            score = max(score, 1.0)
        if w.text.lower() in FUNCTION_WORDS:
            score -= 0.5  # never leave "the" dangling at a line end
    return score


def text_width(words: list[Word] | tuple[Word, ...]) -> int:
    return sum(len(w.text) for w in words) + max(len(words) - 1, 0)


def layout_lines(words: list[Word] | tuple[Word, ...], layout: CaptionLayout) -> list[str] | None:
    """Lay ``words`` out in as few lines as fit, breaking at the best places.

    Returns None when they do not fit in ``layout.max_lines`` lines. A single word longer
    than a line gets a line of its own.
    """
    words = list(words)
    if not words:
        return []
    best = _best_split(words, 0, layout.max_lines, layout.max_chars_per_line, {})
    if best is None:
        return None
    _, cuts = best
    lines, start = [], 0
    for cut in (*cuts, len(words)):
        lines.append(" ".join(w.text for w in words[start:cut]))
        start = cut
    return lines


def _best_split(
    words: list[Word],
    start: int,
    lines_left: int,
    width: int,
    memo: dict[tuple[int, int], tuple[float, tuple[int, ...]] | None],
) -> tuple[float, tuple[int, ...]] | None:
    """(score, cut positions) for words[start:] in at most ``lines_left`` lines."""
    key = (start, lines_left)
    if key in memo:
        return memo[key]
    rest = words[start:]
    result: tuple[float, tuple[int, ...]] | None = None
    if text_width(rest) <= width or len(rest) == 1:
        result = (0.0, ())
    elif lines_left > 1:
        for end in range(start + 1, len(words)):
            line = words[start:end]
            if text_width(line) > width and len(line) > 1:
                break
            tail = _best_split(words, end, lines_left - 1, width, memo)
            if tail is None:
                continue
            balance = -abs(text_width(line) - text_width(words[end:])) / width
            score = break_quality(words, end - 1) + balance + tail[0] - 1.0
            if result is None or score > result[0]:
                result = (score, (end, *tail[1]))
    memo[key] = result
    return result
