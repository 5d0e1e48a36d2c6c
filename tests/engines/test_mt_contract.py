"""The contract every translation engine keeps, run over each of them: the fake, Apertium
with the installed Debian pairs, and the remote engines against an in-process server that
speaks their APIs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from mt_fake_server import DEEPL_KEY, fake_mt_server

from captioncast.engines.mt.base import TranslationError, Translator
from captioncast.engines.mt.registry import MT_ENGINES, load_translator

NEEDS_APERTIUM = pytest.mark.skipif(
    shutil.which("apertium") is None, reason="the apertium package is not installed"
)


@pytest.fixture(
    params=["fake", pytest.param("apertium", marks=NEEDS_APERTIUM), "libretranslate", "deepl"]
)
def translator(request: pytest.FixtureRequest) -> Iterator[Translator]:
    assert set(MT_ENGINES) == {"fake", "apertium", "libretranslate", "deepl"}
    with fake_mt_server() as server:
        options = {
            "fake": {},
            "apertium": {},
            "libretranslate": {"url": server.url},
            "deepl": {"url": server.url, "api_key": DEEPL_KEY},
        }[request.param]
        engine = load_translator(request.param, **options)
        try:
            yield engine
        finally:
            engine.close()


def test_contract(translator: Translator) -> None:
    assert translator.name in MT_ENGINES
    pairs = translator.pairs()
    assert ("en", "es") in pairs
    assert all(isinstance(s, str) and isinstance(t, str) and s != t for s, t in pairs)

    texts = ["Good evening, and welcome to the late news.", "", "The rain came early."]
    out = translator.translate(texts, "en", "es")
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    assert out[1] == ""
    for source, translated in zip(texts, out, strict=True):
        if source:
            assert translated and translated == translated.strip() and translated != source
            assert "\0" not in translated and "\n" not in translated
    assert translator.translate([], "en", "es") == []


def test_an_unknown_pair_is_a_translation_error(translator: Translator) -> None:
    with pytest.raises(TranslationError):
        translator.translate(["Hello."], "en", "xx")


def test_an_engine_works_again_after_close(translator: Translator) -> None:
    first = translator.translate(["The rain came early."], "en", "es")
    translator.close()
    assert translator.translate(["The rain came early."], "en", "es") == first


def test_unknown_engines_name_the_choices() -> None:
    from captioncast.errors import ConfigError

    with pytest.raises(ConfigError, match="apertium, deepl, fake, libretranslate"):
        load_translator("google")
