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
