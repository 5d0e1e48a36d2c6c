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


# Words that bind to the word after them: a line or block never ends on one if it can help it.
BINDING_WORDS = frozenset(
    "a an the of to in on at by with from into onto about for as than my your his her its "
    "our their this these those no not very mr mrs ms dr".split()
)


def break_quality(words: list[Word] | tuple[Word, ...], i: int, pause: float = 0.25) -> float:
    """How good a place the boundary after ``words[i]`` is for a line or block break.

    Best after a sentence, then after a clause, at a pause, or before a function word. Worst
    inside a name ("City | Council"), between a number and what it counts ("20 | degrees"),
    and after an article or preposition ("the | river").
    """
    w = words[i]
    score = 0.0
    if ends_sentence(w):
        score = 3.0
    elif ends_clause(w):
        score = 2.0
    if i + 1 < len(words):
        nxt = words[i + 1]
        bare, following = w.text.strip("\"'"), nxt.text.strip("\"'")
        if nxt.start - w.end >= pause:
            score = max(score, 1.5)
        if following.lower() in FUNCTION_WORDS:
            score = max(score, 1.0)
        if score < 2.0:  # no punctuation between them
            if bare.lower() in BINDING_WORDS:
                score -= 2.0
            elif bare.lower() in FUNCTION_WORDS:
                score -= 0.5
            if _capitalized(bare) and _capitalized(following) and not _starts_sentence(words, i):
                score -= 2.0  # inside a name
            if bare[:1].isdigit() and following[:1].isalpha():
                score -= 1.5  # a number and its unit or noun
    return score


def _capitalized(text: str) -> bool:
    return text[:1].isupper()


def _starts_sentence(words: list[Word] | tuple[Word, ...], i: int) -> bool:
    """Whether ``words[i]`` is capitalized only because a sentence starts with it."""
    return i == 0 or ends_sentence(words[i - 1])


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
