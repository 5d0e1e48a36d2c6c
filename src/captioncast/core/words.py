"""Recognized words, the unit every later stage works in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Word:
    """One recognized word with its audio-time span in seconds.

    ``text`` is the word as the model wrote it, without the leading space Whisper puts on
    word tokens; punctuation stays attached (``"Hello,"``).
    """

    text: str
    start: float
    end: float
    probability: float = 1.0

    def shifted(self, offset: float) -> Word:
        return Word(self.text, self.start + offset, self.end + offset, self.probability)


SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")
CLAUSE_END = (",", ";", ":", "—", "–", "、", "，")


def ends_sentence(word: Word) -> bool:
    return word.text.rstrip("\"')]»”’").endswith(SENTENCE_END)


def ends_clause(word: Word) -> bool:
    return word.text.rstrip("\"')]»”’").endswith(CLAUSE_END)


def join_words(words: list[Word] | tuple[Word, ...]) -> str:
    return " ".join(w.text for w in words)
