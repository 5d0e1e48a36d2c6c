"""Which engine translates which pair on this installation.

A :class:`TranslatorSet` holds the configured engines in order of preference; the first one
that knows a pair serves it. Asking an engine for its pairs may take a network round trip,
so :meth:`TranslatorSet.load` (blocking, for a worker thread) asks once and keeps the
answer; an engine that could not answer is asked again a minute later. Lookups use what is
known and never block.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from captioncast.engines.mt.base import LanguagePair, TranslationError, Translator, primary_subtag
from captioncast.engines.mt.registry import load_translator

log = logging.getLogger(__name__)

ASK_AGAIN_AFTER = 60.0  # seconds before an engine that could not list its pairs is asked again


@dataclass(frozen=True, slots=True)
class TranslationSettings:
    """The engines of an installation. ``engines`` lists them in order of preference; one
    without its address or key (libretranslate, deepl) is left out."""

    engines: tuple[str, ...] = ("apertium", "libretranslate", "deepl")
    libretranslate_url: str | None = None
    libretranslate_api_key: str | None = None
    deepl_api_key: str | None = None
    deepl_url: str | None = None
    timeout: float = 5.0  # seconds an engine may take for one sentence


@dataclass(frozen=True, slots=True)
class Route:
    """How one pair is translated: the engine, and the pair in the engine's own codes."""

    translator: Translator
    source: str
    target: str

    @property
    def engine(self) -> str:
        return self.translator.name


class TranslatorSet:
    """The engines of an installation, in order of preference, and the pairs they serve."""

    def __init__(self, translators: Sequence[Translator] = ()) -> None:
        self.translators = tuple(translators)
        self._pairs: dict[int, set[LanguagePair]] = {}  # by position in ``translators``
        self._failed_at: dict[int, float] = {}
        self._lock = threading.Lock()

    def load(self) -> None:
        """Ask every engine whose pairs are not known yet (blocking)."""
        with self._lock:
            for i, translator in enumerate(self.translators):
                if i in self._pairs:
                    continue
                failed = self._failed_at.get(i)
                if failed is not None and time.monotonic() - failed < ASK_AGAIN_AFTER:
                    continue
                try:
                    self._pairs[i] = translator.pairs()
                except TranslationError as e:
                    log.warning("translation engine %s lists no pairs: %s", translator.name, e)
                    self._failed_at[i] = time.monotonic()

    def pairs(self) -> dict[LanguagePair, str]:
        """Every known pair and the name of the engine that serves it."""
        served: dict[LanguagePair, str] = {}
        for i, translator in enumerate(self.translators):
            for pair in sorted(self._pairs.get(i, ())):
                served.setdefault(pair, translator.name)
        return served

    def route(self, source: str, target: str) -> Route | None:
        """The engine for ``source`` → ``target``, or None.

        An exact pair is preferred, then one without the region or script of either side
        (``en`` → ``es-419`` is served by an ``en`` → ``es`` engine).
        """
        for pair in _candidates(source, target):
            for i, translator in enumerate(self.translators):
                if pair in self._pairs.get(i, ()):
                    return Route(translator, *pair)
        return None

    def unsupported(self, source: str, targets: Iterable[str]) -> list[str]:
        """The targets no engine translates ``source`` into."""
        return [t for t in targets if t != source and self.route(source, t) is None]

    def close(self) -> None:
        for translator in self.translators:
            try:
                translator.close()
            except Exception:
                log.exception("closing translation engine %s failed", translator.name)


def _candidates(source: str, target: str) -> list[LanguagePair]:
    out: list[LanguagePair] = []
    for pair in (
        (source, target),
        (primary_subtag(source), target),
        (source, primary_subtag(target)),
        (primary_subtag(source), primary_subtag(target)),
    ):
        if pair not in out:
            out.append(pair)
    return out


def engine_options(name: str, settings: TranslationSettings) -> dict[str, Any] | None:
    """What ``load_translator(name)`` needs from ``settings``; None when not configured."""
    timeout = settings.timeout
    if name == "libretranslate":
        if not settings.libretranslate_url:
            return None
        url, key = settings.libretranslate_url, settings.libretranslate_api_key
        return {"url": url, "api_key": key, "timeout": timeout}
    if name == "deepl":
        if not settings.deepl_api_key:
            return None
        return {"api_key": settings.deepl_api_key, "url": settings.deepl_url, "timeout": timeout}
    if name in ("apertium", "fake"):
        return {"timeout": timeout}
    return {}  # an unknown name: load_translator names the choices


def translators_from_settings(settings: TranslationSettings) -> TranslatorSet:
    """The configured engines (nothing is contacted yet: see :meth:`TranslatorSet.load`)."""
    translators = []
    for name in settings.engines:
        options = engine_options(name, settings)
        if options is not None:
            translators.append(load_translator(name, **options))
    return TranslatorSet(translators)
