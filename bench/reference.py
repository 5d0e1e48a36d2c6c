"""Where each reference word was spoken: the reference text aligned to an offline decode.

The same model transcribes the whole recording offline with word timestamps; the reference
words are matched to the decoded words by text, and take their times. The few that do not
match take times interpolated from their neighbours. The offline text is also what the
offline WER is computed from.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from corpus import Corpus
from faster_whisper import WhisperModel

from captioncast.core.policy import normalize
from captioncast.engines.asr.models import resolve_model


@dataclass(frozen=True, slots=True)
class TimedWord:
    text: str
    start: float
    end: float

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2


def offline_reference(speech: Corpus, model: str) -> tuple[list[TimedWord], str]:
    """The reference words with times, and the model's offline transcript."""
    whisper = WhisperModel(resolve_model(model), device="cpu", compute_type="int8")
    segments, _ = whisper.transcribe(str(speech.wav), language="en", word_timestamps=True)
    decoded = [TimedWord(w.word.strip(), w.start, w.end) for s in segments for w in s.words or ()]
    offline_text = " ".join(w.text for w in decoded)
    reference = speech.text.split()
    a = [normalize(w) for w in reference]
    b = [normalize(w.text) for w in decoded]
    times: list[tuple[float, float] | None] = [None] * len(reference)
    for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            w = decoded[block.b + k]
            times[block.a + k] = (w.start, w.end)
    return _interpolated(reference, times, speech.duration), offline_text


def _interpolated(
    words: list[str], times: list[tuple[float, float] | None], duration: float
) -> list[TimedWord]:
    out: list[TimedWord] = []
    for i, word in enumerate(words):
        span = times[i]
        if span is None:
            before = next((times[j][1] for j in range(i - 1, -1, -1) if times[j]), 0.0)
            after = next((times[j][0] for j in range(i + 1, len(words)) if times[j]), duration)
            span = (before, max(before, after))
        out.append(TimedWord(word, span[0], span[1]))
    return out
