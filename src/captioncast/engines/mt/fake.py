"""A deterministic translator for tests: every word upper-cased, punctuation kept.

``"Good evening, all."`` from ``en`` to ``es`` is ``"GOOD EVENING, ALL."``; a ``lexicon`` maps
chosen words (lower case, without punctuation) to others. A test can make it slow (``delay``
seconds a call, past ``timeout`` it fails the way a remote engine times out) or down
(``failing``), and reads what it was asked in ``calls``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

from captioncast.engines.mt.base import LanguagePair, TranslationError

DEFAULT_PAIRS: tuple[LanguagePair, ...] = (("en", "es"), ("en", "ca"), ("en", "de"), ("es", "en"))
_WORD = re.compile(r"^(\W*)(.*?)(\W*)$")


class FakeTranslator:
    """Upper-cases words; slow or failing on demand."""

    name = "fake"

    def __init__(
        self,
        pairs: Iterable[LanguagePair] = DEFAULT_PAIRS,
        lexicon: Mapping[str, str] | None = None,
        delay: float = 0.0,
        timeout: float = 5.0,
        failing: bool = False,
    ) -> None:
        self._pairs = set(pairs)
        self.lexicon = dict(lexicon or {})
        self.delay = delay
        self.timeout = timeout
        self.failing = failing
        self.calls: list[tuple[tuple[str, ...], str, str]] = []
        self.closed = False
        self._lock = threading.Lock()

    def pairs(self) -> set[LanguagePair]:
        return set(self._pairs)

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        with self._lock:  # one call at a time, like a process pipe
            self.calls.append((tuple(texts), source, target))
            if (source, target) not in self._pairs:
                raise TranslationError(f"fake: no {source}-{target} pair")
            if self.delay > self.timeout:
                time.sleep(self.timeout)
                raise TranslationError(f"fake: timed out after {self.timeout:g} s")
            if self.delay:
                time.sleep(self.delay)
            if self.failing:
                raise TranslationError("fake: the engine is down")
            return [self._translate(text) for text in texts]

    def close(self) -> None:
        self.closed = True

    def _translate(self, text: str) -> str:
        return " ".join(self._word(w) for w in text.split())

    def _word(self, word: str) -> str:
        m = _WORD.match(word)
        assert m is not None  # the pattern matches every string
        lead, core, trail = m.groups()
        return lead + self.lexicon.get(core.lower(), core.upper()) + trail
