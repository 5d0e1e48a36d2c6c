"""Recognize decoded segments that are not speech: loops and confident-sounding silence.

Whisper, decoding with a single temperature, sometimes loops on a phrase or writes text for
silence. Such segments are dropped and the stream moves on, rather than retrying (a retry is
what makes one decode take tens of seconds on a CPU).
"""

from __future__ import annotations

import re

from captioncast.engines.asr.base import AsrSegment

MAX_COMPRESSION_RATIO = 2.4
MAX_REPEATS = 3  # a word or phrase said 4+ times in a row is a loop
NO_SPEECH_PROB = 0.6
LOW_AVG_LOGPROB = -1.0
UNLIKELY_WORDS = 0.1  # mean word probability of a segment made up rather than heard

_NON_WORD = re.compile(r"[^\w']+")


def rejection_reason(segment: AsrSegment) -> str | None:
    """Why ``segment`` should be discarded, or None to keep it."""
    if segment.compression_ratio > MAX_COMPRESSION_RATIO:
        return f"compression ratio {segment.compression_ratio:.2f} > {MAX_COMPRESSION_RATIO}"
    if segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < LOW_AVG_LOGPROB:
        return (
            f"no speech (no_speech_prob {segment.no_speech_prob:.2f}, "
            f"avg_logprob {segment.avg_logprob:.2f})"
        )
    if segment.words and segment.avg_logprob < LOW_AVG_LOGPROB:
        mean = sum(w.probability for w in segment.words) / len(segment.words)
        if mean < UNLIKELY_WORDS:
            # Whisper's guess when it hears nothing it knows: often the prompt again.
            return (
                f"unlikely words (mean probability {mean:.2f}, "
                f"avg_logprob {segment.avg_logprob:.2f})"
            )
    tokens = normalized_tokens(segment.text)
    phrase = repeated_phrase(tokens, MAX_REPEATS + 1)
    if phrase is not None:
        return f"loop: {' '.join(phrase)!r} repeated {MAX_REPEATS + 1}+ times"
    return None


def normalized_tokens(text: str) -> list[str]:
    """Lowercased words of ``text`` without punctuation."""
    return [t for t in _NON_WORD.split(text.lower()) if t.strip("'")]


def repeated_phrase(tokens: list[str], times: int) -> list[str] | None:
    """The shortest phrase that occurs ``times`` times back to back in ``tokens``, if any."""
    count = len(tokens)
    for size in range(1, count // times + 1):
        for start in range(count - size * times + 1):
            phrase = tokens[start : start + size]
            if all(
                tokens[start + k * size : start + (k + 1) * size] == phrase for k in range(1, times)
            ):
                return phrase
    return None


def cut_loop(segment: AsrSegment) -> AsrSegment:
    """``segment`` without the repetition loop it ends in, and without words that are not
    words (runs of underscores or dashes).

    Whisper usually transcribes the audio correctly up to a point and then repeats itself
    ("In the capital. In the capital. In the capital…"): the first occurrence is kept, so the
    decode is not wasted, and the streaming policy checks it against the next decode anyway.
    A phrase of two or more words said twice in a row, or one word three times, counts as a
    loop only when it is followed by more repetition or by nothing: real speech repeats too.
    """
    words = [w for w in segment.words if any(c.isalnum() for c in w.text.replace("_", ""))]
    tokens = [" ".join(normalized_tokens(w.text)) for w in words]
    cut = _loop_start(tokens)
    if cut is None and len(words) == len(segment.words):
        return segment
    kept = tuple(words[:cut] if cut is not None else words)
    text = " ".join(w.text for w in kept)
    return AsrSegment(
        segment.start,
        kept[-1].end if kept else segment.start,
        text,
        kept,
        segment.avg_logprob,
        segment.no_speech_prob,
        compression_ratio=1.0 if cut is not None else segment.compression_ratio,
    )


def _loop_start(tokens: list[str]) -> int | None:
    """Index where the looping repeats begin: the start of the phrase's second occurrence."""
    count = len(tokens)
    for start in range(count):
        for size in range(1, (count - start) // 2 + 1):
            phrase = tokens[start : start + size]
            repeats = 1
            while tokens[start + repeats * size : start + (repeats + 1) * size] == phrase:
                repeats += 1
            needed = 3 if size == 1 else 2
            runs_to_end = start + repeats * size >= count - size
            if repeats >= needed and (repeats >= needed + 1 or runs_to_end):
                return start + size
    return None
