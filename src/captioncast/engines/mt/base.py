"""The machine translation contract: sentences in one language in, the same count out.

::

    CaptioncastError
    └── TranslationError     an engine could not translate (down, timed out, refused the pair)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from captioncast.errors import CaptioncastError

LanguagePair = tuple[str, str]
"""(source, target) language codes, as the flows name them (ISO 639-1 where one exists)."""


class TranslationError(CaptioncastError):
    """An engine could not translate: it is down, too slow, or does not know the pair."""


class Translator(Protocol):
    """A machine translation engine.

    Both methods are blocking and may take a second or more (a process pipe, an HTTP round
    trip): call them from a worker thread, never from the event loop. An engine keeps its own
    time limit, so a call always returns or raises within about ``timeout`` seconds.
    """

    name: str

    def pairs(self) -> set[LanguagePair]:
        """The directions this engine translates. Raises TranslationError when it cannot
        tell (a remote engine that is down)."""
        ...

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Each of ``texts`` translated from ``source`` to ``target``, in order.

        Raises TranslationError; never returns a list of another length.
        """
        ...

    def close(self) -> None:
        """Release processes and connections; a later ``translate`` may open them again."""
        ...


def primary_subtag(code: str) -> str:
    """``"es-419"`` → ``"es"``: the language without region or script."""
    return code.split("-", 1)[0].lower()
