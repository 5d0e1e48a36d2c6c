"""Translation engines by name, imported only when chosen (the remote ones load httpx)."""

from __future__ import annotations

from typing import Any

from captioncast.engines.lazy import load_class
from captioncast.engines.mt.base import Translator

MT_ENGINES = {
    "apertium": "captioncast.engines.mt.apertium:ApertiumTranslator",
    "libretranslate": "captioncast.engines.mt.libretranslate:LibreTranslateTranslator",
    "deepl": "captioncast.engines.mt.deepl:DeepLTranslator",
    "fake": "captioncast.engines.mt.fake:FakeTranslator",
}


def load_translator(name: str, **options: Any) -> Translator:
    """Build the engine registered as ``name``.

    ``options`` go to the engine: for apertium ``datadir`` and ``timeout``; for
    libretranslate ``url``, ``api_key``, ``timeout`` and ``retries``; for deepl ``api_key``,
    ``url``, ``timeout`` and ``retries``; for fake ``pairs``, ``lexicon``, ``delay``,
    ``timeout`` and ``failing``. Raises ``ConfigError`` for an unknown name.
    """
    translator: Translator = load_class(MT_ENGINES, name, "translation")(**options)
    return translator
